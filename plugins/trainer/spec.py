"""The model spec: the digital human's sub-models as a graph (who trains on whose model file, which
train in parallel), with each one's module and role, inputs, resources, presets and stop rules.

The host builds the training part of the flow from it, `twinforge up` starts a trainer per
sub-model, and each trainer imports its sub-model's module and reads its presets from it, so a
sub-model is added or rewired in one YAML file. Loading checks the whole graph and reports
every problem at once, naming the sub-model and what to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from host.presets import PRESETS_ORDER

DEFAULT_SPEC = Path(__file__).with_name("default_spec.yaml")
FORMAT = "twinforge.model_spec"
FORMAT_VERSION = 1
INPUT_KINDS = ("training_set", "materials")
# Preset values the trainer itself reads; any other value only passes through to the sub-model.
POSITIVE_INTS = ("iterations", "checkpoint_every", "batch_size", "crop_size")
POSITIVE_NUMBERS = ("lr", "max_minutes")


class SpecError(ValueError):
    """The spec cannot be used; the message lists each problem and what to change."""


@dataclass(frozen=True)
class EarlyStop:
    measure: str
    patience: int
    min_delta: float = 0.0
    target: float | None = None


@dataclass(frozen=True)
class SubModel:
    name: str
    module: str  # the Python module whose prepare(setup) builds its network
    role: str  # what it does, in one short plain phrase
    level: int
    needs: tuple[str, ...]
    inputs: tuple[str, ...]
    cpu_cores: float
    gpus: int
    presets: dict[str, dict[str, Any]]
    early_stop: EarlyStop | None = None


@dataclass(frozen=True)
class Spec:
    submodels: dict[str, SubModel]

    def by_level(self) -> list[list[str]]:
        """The sub-models level by level: those of one level train in parallel."""
        levels = sorted({m.level for m in self.submodels.values()})
        return [sorted(n for n, m in self.submodels.items() if m.level == level) for level in levels]


def load_spec(path: Path | None = None) -> Spec:
    """The validated spec from a YAML file (the default model's when no path is given)."""
    path = Path(path) if path is not None else DEFAULT_SPEC
    try:
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and "presets_file" in data:
            data = with_presets_file(data, yaml.safe_load((path.parent / data.pop("presets_file")).read_text()))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"the model spec {path} (or its presets_file) cannot be read: {exc}") from exc
    return validate_spec(data, str(path))


def with_presets_file(data: dict[str, Any], shared: Any) -> dict[str, Any]:
    """Adds the values of a presets file (preset -> sub-model -> values, kept beside the networks
    that read them) under each sub-model's own presets, whose values win."""
    if not isinstance(shared, dict) or not isinstance(data.get("submodels"), dict):
        return data
    merged = {}
    for name, entry in data["submodels"].items():
        if not isinstance(entry, dict):
            merged[name] = entry
            continue
        own = entry.get("presets") or {}
        presets = {
            preset: {**(values.get(name) or {}), **(own.get(preset) or {})}
            for preset, values in shared.items()
            if isinstance(values, dict) and (name in values or preset in own)
        }
        merged[name] = {**entry, "presets": {**own, **presets}}
    return {**data, "submodels": merged}


def validate_spec(data: Any, source: str = "the model spec") -> Spec:
    if not isinstance(data, dict):
        raise SpecError(f"{source} must be a mapping with `format`, `format_version` and `submodels`")
    problems: list[str] = []
    if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
        problems.append(f"set `format: {FORMAT}` and `format_version: {FORMAT_VERSION}`")
    raw = data.get("submodels")
    if not isinstance(raw, dict) or not raw:
        raise SpecError(f"{source}: `submodels` must map each sub-model's name to its description")
    unknown_keys = set(data) - {"format", "format_version", "submodels"}
    if unknown_keys:
        problems.append(f"unknown top-level keys {sorted(unknown_keys)}: remove them")
    models = {}
    for name, entry in raw.items():
        model = _submodel(str(name), entry, problems)
        if model is not None:
            models[model.name] = model
    if len(models) == len(raw):
        _check_graph(models, problems)
    if problems:
        raise SpecError(f"{source} is invalid:\n- " + "\n- ".join(problems))
    return Spec(submodels=models)


def _submodel(name: str, entry: Any, problems: list[str]) -> SubModel | None:
    where = f"sub-model {name!r}"
    if not name.isidentifier() or not name.islower():
        problems.append(f"{where}: a name must be a lower-case Python identifier (it is also the stage's name and its model file's)")
        return None
    if not isinstance(entry, dict):
        problems.append(f"{where}: describe it as a mapping with module, role, level, needs, inputs, resources and presets")
        return None
    allowed = {"module", "role", "level", "needs", "inputs", "resources", "presets", "early_stop"}
    if set(entry) - allowed:
        problems.append(f"{where}: unknown keys {sorted(set(entry) - allowed)} (allowed: {sorted(allowed)})")
    module = _module(where, entry.get("module"), problems)
    role = _role(where, entry.get("role"), problems)
    level = entry.get("level")
    if not isinstance(level, int) or isinstance(level, bool) or level < 1:
        problems.append(f"{where}: `level` must be a whole number from 1")
        return None
    needs = entry.get("needs", [])
    if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
        problems.append(f"{where}: `needs` must be a list of sub-model names")
        return None
    inputs = entry.get("inputs", list(INPUT_KINDS))
    if not isinstance(inputs, list) or not set(inputs) <= set(INPUT_KINDS):
        problems.append(f"{where}: `inputs` must be a list drawn from {list(INPUT_KINDS)}")
        return None
    resources = entry.get("resources", {})
    cpu_cores = resources.get("cpu_cores", 1) if isinstance(resources, dict) else None
    gpus = resources.get("gpus", 0) if isinstance(resources, dict) else None
    if not isinstance(cpu_cores, (int, float)) or cpu_cores <= 0 or gpus not in (0, 1):
        problems.append(f"{where}: `resources` must be {{cpu_cores: a number above 0, gpus: 0 or 1}}")
        return None
    presets = _presets(where, entry.get("presets"), problems)
    early_stop = _early_stop(where, entry.get("early_stop"), problems)
    if presets is None or early_stop is False or module is None or role is None:
        return None
    return SubModel(
        name=name, module=module, role=role, level=level, needs=tuple(needs), inputs=tuple(inputs),
        cpu_cores=float(cpu_cores), gpus=int(gpus), presets=presets, early_stop=early_stop,
    )


def _module(where: str, raw: Any, problems: list[str]) -> str | None:
    """The dotted name of the module that implements the network; only its form is checked here, since
    importing it would load torch and the networks wherever the spec is read (the host, the bot)."""
    if raw is None:
        problems.append(f"{where}: `module` is missing: name the Python module whose prepare(setup) builds its network (e.g. plugins.lipsync.syncnet)")
        return None
    if not isinstance(raw, str) or not all(part.isidentifier() for part in raw.split(".")):
        problems.append(f"{where}: `module` must be a dotted Python module name such as plugins.lipsync.syncnet, not {raw!r}")
        return None
    return raw


def _role(where: str, raw: Any, problems: list[str]) -> str | None:
    """What the sub-model does in one line, for the people who read the spec and the plugin list."""
    if raw is None:
        problems.append(f"{where}: `role` is missing: say in one short phrase what it does (e.g. \"voice to lip shapes\")")
        return None
    if not isinstance(raw, str) or not raw.strip() or "\n" in raw.strip():
        problems.append(f"{where}: `role` must be one short line of text saying what it does, not {raw!r}")
        return None
    return raw.strip()


def _presets(where: str, raw: Any, problems: list[str]) -> dict[str, dict[str, Any]] | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: `presets` must map {', '.join(PRESETS_ORDER)} to their values")
        return None
    missing = [p for p in PRESETS_ORDER if p not in raw]
    if missing:
        problems.append(f"{where}: the presets {missing} are missing; every sub-model needs {list(PRESETS_ORDER)}")
        return None
    ok = True
    for preset, values in raw.items():
        if not isinstance(values, dict):
            problems.append(f"{where}, preset {preset!r}: give its values as a mapping")
            ok = False
            continue
        for key in POSITIVE_INTS:
            value = values.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{where}, preset {preset!r}: `{key}` must be a whole number from 1")
                ok = False
        for key in POSITIVE_NUMBERS:
            value = values.get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                problems.append(f"{where}, preset {preset!r}: `{key}` must be a number above 0")
                ok = False
    return {preset: dict(values) for preset, values in raw.items()} if ok else None


def _early_stop(where: str, raw: Any, problems: list[str]) -> EarlyStop | None | bool:
    """None when absent, False when invalid (the problem is recorded)."""
    if raw is None:
        return None
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("measure"), str)
        or not isinstance(raw.get("patience"), int)
        or raw["patience"] < 1
        or not isinstance(raw.get("min_delta", 0.0), (int, float))
        or raw.get("min_delta", 0.0) < 0
        or not isinstance(raw.get("target", 0.0), (int, float))
        or set(raw) - {"measure", "patience", "min_delta", "target"}
    ):
        problems.append(
            f"{where}: `early_stop` must be {{measure: a name from evaluate(), patience: a whole number from 1, "
            "min_delta: 0 or more, target: a number (optional)}"
        )
        return False
    target = raw.get("target")
    return EarlyStop(raw["measure"], raw["patience"], float(raw.get("min_delta", 0.0)), None if target is None else float(target))


def _check_graph(models: dict[str, SubModel], problems: list[str]) -> None:
    for model in models.values():
        for need in model.needs:
            if need not in models:
                problems.append(f"sub-model {model.name!r} needs {need!r}, which is not a sub-model (known: {sorted(models)})")
            elif need == model.name:
                problems.append(f"sub-model {model.name!r} needs itself: remove it from its `needs`")
    if problems:
        return
    cycle = _cycle(models)
    if cycle:
        problems.append(f"the needs form a cycle {' -> '.join(cycle)}: a sub-model cannot train on its own descendant")
        return
    for model in models.values():
        for need in model.needs:
            if models[need].level >= model.level:
                problems.append(
                    f"sub-model {model.name!r} (level {model.level}) needs {need!r} of level {models[need].level}: "
                    f"a need must be on an earlier level; raise {model.name!r}'s level above {models[need].level}"
                )


def _cycle(models: dict[str, SubModel]) -> list[str]:
    """One cycle of the needs as a path that ends where it starts, or []."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str]:
        if name in visiting:
            return visiting[visiting.index(name):] + [name]
        if name in done:
            return []
        visiting.append(name)
        for need in models[name].needs:
            found = visit(need)
            if found:
                return found
        visiting.pop()
        done.add(name)
        return []

    for name in models:
        found = visit(name)
        if found:
            return found
    return []
