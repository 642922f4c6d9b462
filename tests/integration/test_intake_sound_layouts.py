"""The intake check reads sound of every channel layout a camera or an editor writes, in its own
process, without dying: a 7.1 AAC track crashed it (PyAV walks a planar frame's data pointers past
the eighth; found by fuzzing). Each check runs as `twinforge check` in a subprocess, so a
regression fails here instead of killing the test run. The files are made by ffmpeg here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYOUTS = {"mono": 1, "stereo": 2, "5.1": 6, "7.1": 8}


def video_with_sound(path: Path, layout: str) -> Path:
    channels = "|".join(f"c{i}=c0" for i in range(LAYOUTS[layout]))
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=25", "-f", "lavfi", "-i", "sine=f=440:r=48000",
         "-filter_complex", f"[1]pan={layout}|{channels}[a]", "-map", "0", "-map", "[a]", "-t", "2", "-c:v", "libx264", "-c:a", "aac", str(path)],
        check=True,
    )
    return path


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_sound_of_any_layout_is_measured(tmp_path, layout) -> None:
    video = video_with_sound(tmp_path / f"{layout}.mp4", layout)
    done = subprocess.run([sys.executable, "-m", "host.cli", "check", str(video), "--preset", "draft", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), f"exit {done.returncode} (negative: killed by a signal): {done.stderr[-2000:]}"
    report = json.loads(done.stdout)
    rows = {row["name"]: row for row in report["measures"]}
    assert rows["audio_track"]["status"] == "pass"
    assert "speech_share" in rows and rows["speech_share"]["value"] is not None
