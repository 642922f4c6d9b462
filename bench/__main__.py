"""`python -m bench`: every benchmark, one after the other, and bench/RESULTS.md with what each printed.

Each benchmark measures its own baseline in the same run and prints its figures beside it with the
ratio (see each module's docstring for what is measured against what); this runner runs them as
separate processes, so that one's memory and threads do not colour the next's, and writes one
file with the machine's description, the date and every benchmark's table. A benchmark that fails
is reported as failed with its last lines, and the others still run. With --only, the rows and
sections of the benchmarks not run are kept from the file as it was, and a line says what was
measured again and when.

    .venv/bin/python -m bench [--only serve,deploy] [--output bench/RESULTS.md]
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import click

# In the order a person meets them; each with the arguments that make a full run.
BENCHMARKS = {
    "intake": ("the intake check against decoding the same video", []),
    "preprocess": ("the five preprocessing stages against real time and decoding", []),
    "dispatch": ("dispatch latency through the queue against a direct gRPC call", []),
    "lipsync": ("the draft model trained on a sample; its render's lip sync against the floor and the ceiling", []),
    "sync_expert": ("the sync expert's held-out accuracy on each sample over three seeds, against the same expert on shuffled labels", []),
    "training": ("training samples per second of each sub-model in each preset against the draft preset's", []),
    "serve": ("the inference service's render against real time and the floor; streaming first-frame latency", []),
    "deploy": ("Deploy to the first video, cold and warm, against a render on a live service", []),
    "live": ("a live WebRTC conversation: first-frame latency, sustained fps, A/V offset, dropped frames, delay growth, against the floor", []),
    "produce": ("the whole `twinforge produce` of a sample with the draft preset, upload to deployed service, against the 30 min target", []),
}
TIMEOUT_S = 3600
TAIL_LINES = 15


def machine() -> str:
    """What the figures were measured on: they mean little without it."""
    memory = ""
    try:
        total_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        memory = f", {total_kb / 1024**2:.0f} GiB"
    except (OSError, StopIteration):
        pass
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU (CPU only)"
    return f"{cpu}, {os.cpu_count()} cores{memory}; {gpu}; Python {platform.python_version()}, torch {torch.__version__}"


def earlier(output: Path) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """An earlier RESULTS.md: its lines above the table, and each benchmark's table row and section."""
    if not output.is_file():
        return [], {}
    text = output.read_text()
    head, _, rest = text.partition("\n| benchmark |")
    rows = {line.split("`")[1].removeprefix("bench."): line for line in rest.splitlines() if line.startswith("| `bench.")}
    sections = {part.split("\n", 1)[0].strip(): "## bench." + part.strip("\n") for part in text.split("\n## bench.")[1:]}
    return head.rstrip("\n").splitlines(), {name: (row, sections.get(name, "")) for name, row in rows.items()}


def run(name: str) -> tuple[str, float, str]:
    """(status, seconds, what it printed)."""
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", f"bench.{name}", *BENCHMARKS[name][1]], capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        return "timed out", time.perf_counter() - started, (exc.stdout or "") if isinstance(exc.stdout, str) else ""
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-TAIL_LINES:])
        return f"failed (exit {done.returncode})", seconds, tail
    return "ok", seconds, done.stdout.strip()


@click.command()
@click.option("--only", default="", help="Comma-separated benchmarks to run (default: all): " + ", ".join(BENCHMARKS))
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path(__file__).parent / "RESULTS.md", show_default=True)
def main(only: str, output: Path) -> None:
    """Run every benchmark and write RESULTS.md."""
    chosen = [name.strip() for name in only.split(",") if name.strip()] or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        raise click.BadParameter(f"no benchmark {', '.join(unknown)}; there are {', '.join(BENCHMARKS)}", param_hint="--only")
    now = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
    head, results = earlier(output) if only else ([], {})
    if head:
        head.append(f"Measured again {now} with `python -m bench --only {','.join(chosen)}` on {machine()}.")
    else:
        head = [
            "# Benchmark results",
            "",
            f"Measured {now} with `python -m bench` on {machine()}.",
            "Every figure stands beside its baseline, measured in the same run, and the ratio; other work on the",
            "machine makes timings noisy (each benchmark prints the load average where it matters).",
        ]
    for name in chosen:
        click.echo(f"running bench.{name} ...", err=True)
        status, seconds, printed = run(name)
        click.echo(f"bench.{name}: {status} in {seconds:.0f} s", err=True)
        results[name] = (f"| `bench.{name}` | {BENCHMARKS[name][0]} | {status} | {seconds:.0f} |", f"## bench.{name}\n\n```\n{printed}\n```")
    ordered = sorted(results, key=lambda name: list(BENCHMARKS).index(name) if name in BENCHMARKS else len(BENCHMARKS))
    lines = [*head, "", "| benchmark | what | status | seconds |", "|---|---|---|---|", *(results[name][0] for name in ordered)]
    for name in ordered:
        lines += ["", results[name][1]]
    output.write_text("\n".join(lines) + "\n")
    click.echo(f"wrote {output}", err=True)


if __name__ == "__main__":
    main()
