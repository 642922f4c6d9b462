"""The whole `twinforge produce` of congress_60s_256.mp4 on this machine, as an operator runs it: a
real `twinforge up` (host, two queue workers, every built-in plugin) in a fresh data folder, then
`twinforge produce VIDEO --name bench --preset draft --auto`, from the upload to a deployed local
service rendering the built-in sentence.

    .venv/bin/python -m bench.produce [--preset draft] [--video congress_60s_256.mp4] [--keep DIR]

Reported: when each stage's lines first and last came (seconds from the start of produce, read as
they arrive: queued or its first progress, then succeeded or its last progress), the time to the evaluated round and its verdict, then, where the
round passed its thresholds (--auto approves only such a round), the time to the deployed service
and to the rendered video; every check's measure against its limit, and where the round failed, the
checks that failed are why nothing was deployed. The baseline is the target: under 30 minutes on 2 cores from the upload to a deployed
service; the ratio is the time measured over it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from bench.intake import SAMPLES
from host.ports import free_stretch
from host.supervisor import BUILTIN_PLUGINS

TWINFORGE = [sys.executable, "-m", "host.cli"]
TARGET_S = 30 * 60
PRODUCE_TIMEOUT_S = 3 * 3600
STAGE_LINE = re.compile(r"^\s*(\w+): (queued|succeeded|\s*[\d.]+% .*)$")
WORDS = re.compile(r"^  (The video .*|FAILS: .*|passes: .*|Does not apply: .*|Not checked, .*)$")


def healthy(env: dict[str, str]) -> bool:
    done = subprocess.run([*TWINFORGE, "plugins", "ls", "--json"], env=env, capture_output=True, text=True, timeout=60)
    rows = json.loads(done.stdout) if done.returncode == 0 else []
    return bool(rows) and all(row["health"] == "healthy" for row in rows)


def start_platform(data: Path) -> tuple[dict[str, str], subprocess.Popen, float]:
    """`twinforge up` on free ports, once every plugin is healthy; and the seconds that took."""
    ports = free_stretch(len(BUILTIN_PLUGINS) + 2)  # the host's, the private Redis's, then one per plugin
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINFORGE_")} | {
        "TWINFORGE_DATA_DIR": str(data),
        "TWINFORGE_HOST_ADDRESS": f"127.0.0.1:{ports}",
        "TWINFORGE_PRIVATE_REDIS_PORT": str(ports + 1),
        "TWINFORGE_PLUGIN_BASE_PORT": str(ports + 2),
    }
    started = time.perf_counter()
    up = subprocess.Popen([*TWINFORGE, "up", "--cpu-workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not healthy(env):
        if up.poll() is not None:
            raise click.ClickException(f"twinforge up exited with code {up.returncode}; see {data / 'logs'}")
        if time.perf_counter() - started > 300:
            raise click.ClickException(f"the plugins were not all healthy within 300 s; see {data / 'logs'}")
        time.sleep(1)
    return env, up, time.perf_counter() - started


def produce(env: dict[str, str], video: Path, preset: str, output: Path) -> tuple[int, dict[str, list[float]], list[str], str, float]:
    """Runs produce; its exit code, when each stage's first and last lines came, the round's words,
    its last message and its seconds."""
    started = time.perf_counter()
    run = subprocess.Popen([*TWINFORGE, "produce", str(video), "--name", "bench", "--preset", preset, "--auto", "-o", str(output)],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stages: dict[str, list[float]] = {}
    words: list[str] = []
    last = ""
    for line in run.stdout:
        line = line.rstrip("\n")
        last = line if line.strip() else last
        now = time.perf_counter() - started
        if found := STAGE_LINE.match(line):
            stages.setdefault(found.group(1), [now, now])[1] = now
        elif WORDS.match(line):
            words.append(line.strip())
            stages.setdefault("(round evaluated)", [now, now])
    code = run.wait(timeout=PRODUCE_TIMEOUT_S)
    return code, stages, words, last, time.perf_counter() - started


@click.command()
@click.option("--preset", default="draft", show_default=True, help="The preset produce runs with.")
@click.option("--video", default="congress_60s_256.mp4", show_default=True, help="A sample in ../shared/samples.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the platform's data folder (blobs: renders, previews, models) here instead of deleting it.")
def main(preset: str, video: str, keep: Path | None) -> None:
    if not SAMPLES.is_dir():
        raise click.ClickException(f"sample media not found at {SAMPLES}")
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(str(keep)) if keep is not None else tempfile.TemporaryDirectory(prefix="bench-produce-")) as tmp:
        env, up, up_s = start_platform(Path(tmp) / "data")
        code = 1
        try:
            code, stages, words, last, total_s = produce(env, SAMPLES / video, preset, Path(tmp) / "bench.mp4")
        finally:
            if code == 0:  # deployed: the local service runs in a session of its own, stop it
                avatar = json.loads(next((Path(tmp) / "data" / "produce").iterdir()).read_text())["avatar_id"]
                subprocess.run([*TWINFORGE, "undeploy", avatar], env=env, capture_output=True, timeout=120)
            up.send_signal(signal.SIGINT)
            up.wait(timeout=60)
    click.echo(f"produce {video} --preset {preset} --auto on {os.cpu_count()} cores (load {os.getloadavg()[0]:.1f}); "
               f"twinforge up and every plugin healthy in {up_s:.0f} s (not counted)")
    click.echo(f"{'stage':<22} {'first s':>8} {'last s':>8}   (seconds from the start of produce, upload included)")
    for stage, (first_s, last_s) in sorted(stages.items(), key=lambda item: item[1][0]):
        click.echo(f"{stage:<22} {first_s:>8.0f} {last_s:>8.0f}")
    evaluated = stages.get("(round evaluated)")
    click.echo(f"round evaluated after {evaluated[0]:.0f} s: {words[0] if words else 'no verdict'}" if evaluated else "no round was evaluated")
    for line in words[1:]:
        click.echo(f"  {line}")
    if code == 0:
        verdict = "within" if total_s <= TARGET_S else "OVER"
        click.echo(f"deployed and rendered: {total_s:.0f} s from upload to the rendered video; target {TARGET_S} s, ratio {total_s / TARGET_S:.2f} ({verdict} target)")
    else:
        click.echo(f"not deployed (produce exit {code}): {last.strip()}")
        click.echo(f"{total_s:.0f} s from upload to the end of produce; target {TARGET_S} s to a deployed service")


if __name__ == "__main__":
    main()
