"""The layering a newcomer relies on (issue 22): no import cycles among the project's modules, and
plugin processes that never load database code.

Imports inside functions count as edges too: a cycle hidden in a function is still a cycle. The
project imports inside a function only where a CLI verb would otherwise load torch at start-up."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from host.supervisor import BUILTIN_PLUGINS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("host", "plugins", "bot", "scheduler")
DATABASE_MODULES = ("peewee", "playhouse", "psycopg", "psycopg2", "psycopg2cffi", "host.storage.db", "host.storage.models")


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project's modules it imports anywhere in its text (a package's submodule
    importing its own package does not count: Python loads the package first anyway)."""

    def owner(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            for target in map(owner, targets):
                if target and target != name and not name.startswith(f"{target}."):
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            child = next(successors, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_the_cycle_finder_sees_a_cycle_through_a_function_level_import(tmp_path) -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_among_the_projects_modules() -> None:
    modules = project_modules()
    assert len(modules) > 100, "the project's modules were not found"
    assert cycles(import_graph(modules)) == []


def test_plugin_processes_load_no_database_code() -> None:
    """Each built-in plugin and the deployable inference service imported in turn in one fresh
    interpreter, as `python -m` finds it (a package's __main__, whose main() its __name__ guard keeps
    from running); the first that pulls in database code is named with what it pulled."""
    modules = [*dict.fromkeys(plugin.module for plugin in BUILTIN_PLUGINS), "plugins.inference.server"]
    assert "plugins.trainer" in modules, "the trainers' entry point is not among the built-in plugins"
    script = (
        "import importlib.util, sys\n"
        f"database = {DATABASE_MODULES!r}\n"
        f"for module in {modules!r}:\n"
        "    package = importlib.util.find_spec(module).submodule_search_locations is not None\n"
        "    __import__(f'{module}.__main__' if package else module)\n"
        "    loaded = sorted(n for n in sys.modules if n in database or n.split('.')[0] in database)\n"
        "    if loaded:\n"
        "        sys.exit(f'{module} loads {loaded}')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
