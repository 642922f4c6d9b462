"""`twinforge up` as an operator runs it: the platform comes up, `twinforge plugins ls` shows probe
healthy, a killed probe shows down within 15 s and healthy again once restarted, and Ctrl-C stops
every process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.ports import free_stretch
from host.supervisor import BUILTIN_PLUGINS

TWINFORGE = [sys.executable, "-m", "host.cli"]


def plugins(env: dict[str, str]) -> list[dict]:
    out = subprocess.run([*TWINFORGE, "plugins", "ls", "--json"], env=env, capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout) if out.returncode == 0 else []


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def probe_health(env: dict[str, str]) -> str:
    rows = [p for p in plugins(env) if p["name"] == "probe"]
    return rows[0]["health"] if len(rows) == 1 else ""


@contextlib.contextmanager
def running_up(tmp_path: Path, *args: str) -> Iterator[tuple[dict[str, str], subprocess.Popen]]:
    """`twinforge up ARGS` on free ports with its own data folder, stopped with Ctrl-C as a person
    stops it; yields its environment (for CLI calls against it) and the process."""
    ports = free_stretch(len(BUILTIN_PLUGINS) + 3)  # the host's, the private Redis's, one per plugin, the web app's
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINFORGE_")}
    env |= {
        "TWINFORGE_DATA_DIR": str(tmp_path / "data"),
        "TWINFORGE_HOST_ADDRESS": f"127.0.0.1:{ports}",
        "TWINFORGE_PRIVATE_REDIS_PORT": str(ports + 1),
        "TWINFORGE_PLUGIN_BASE_PORT": str(ports + 2),
        "TWINFORGE_WEBAPP_PORT": str(ports + 2 + len(BUILTIN_PLUGINS)),
    }
    up = subprocess.Popen([*TWINFORGE, "up", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield env, up
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(timeout=30)
            except subprocess.TimeoutExpired:
                up.kill()


@pytest.fixture
def platform(tmp_path: Path):
    with running_up(tmp_path) as found:
        yield found


def started_pids(up: subprocess.Popen) -> dict[str, int]:
    """Reads `twinforge up`'s start-up lines ("NAME pid N, log ...") until it says it is up."""
    pids = {}
    for line in up.stdout:
        if line.startswith("Twinforge is up"):
            return pids
        name, _, rest = line.partition(" pid ")
        if rest:
            pids[name.strip()] = int(rest.split(",")[0])
    raise AssertionError("twinforge up exited before it was up")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_shows_probe_healthy_down_when_killed_and_back_when_restarted_and_a_second_up_stops_at_once(platform):
    env, up = platform
    pids = started_pids(up)
    assert {"host", "plugin:probe", "worker:cpu0"} <= set(pids)
    wait_for(lambda: probe_health(env) == "healthy", 60, "probe to be healthy")
    second = subprocess.run([*TWINFORGE, "up"], env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    assert f"the host cannot listen on {env['TWINFORGE_HOST_ADDRESS']}: the port is already in use, held by pid {pids['host']}" in second.stderr
    assert "Nothing was started" in second.stderr and "redis" not in second.stdout
    assert probe_health(env) == "healthy"  # the first platform goes on as it was
    probe_pid = pids["plugin:probe"]
    killed_at = time.monotonic()
    os.kill(probe_pid, signal.SIGKILL)
    wait_for(lambda: probe_health(env) == "down", 15, "probe to be marked down")
    assert time.monotonic() - killed_at < 15
    wait_for(lambda: probe_health(env) == "healthy", 60, "restarted probe to be healthy again")

    up.send_signal(signal.SIGINT)
    output, _ = up.communicate(timeout=30)
    assert up.returncode == 0, output
    assert "stopped." in output
    data = Path(env["TWINFORGE_DATA_DIR"])
    assert (data / "twinforge.db").exists() and (data / "redis" / "appendonlydir").exists()
    # `plugins ls` above set no API key: it sent the operator key `up` wrote, readable by its owner only.
    assert all((data / name).stat().st_mode & 0o777 == 0o600 for name in ("operator.key", "bot.key"))
    assert not any(alive(pid) for pid in pids.values())
    assert subprocess.run(["pgrep", "-f", str(data)], capture_output=True).stdout == b""
