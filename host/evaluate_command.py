"""`twinforge evaluate VIDEO [--audio WAV] [--reference REAL.mp4] [--floor FLOOR.mp4] [--json] [--lang zh]`:
any video measured the way the `sync_detection` and `quality_eval` stages measure a render
(docs/evaluation.md), on this machine, without the host.

The video is the render; --reference is the real recording of the same speech (the ceiling: LMD,
mouth PSNR/SSIM and sharpness need it) and --floor the driving clip left unchanged under the same
sound (`twinforge render --floor`). Rules that need a baseline that was not given are reported as
not checked, and the video cannot pass without them. Inputs of different lengths are measured over
the span they share.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from host.settings import get_settings
from host.presets import PRESETS_ORDER
from plugins.video_analysis.words import LANGUAGES

NOT_PASSED = 3


@click.command("evaluate")
@click.argument("video", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--audio", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The sound the video is played with (default: its own).")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The real recording of the same speech: the ceiling.")
@click.option("--floor", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The driving clip unchanged under the same sound: the floor.")
@click.option("--preset", type=click.Choice(PRESETS_ORDER), default=None, help="Whose limits to check (default: the intake preset setting).")
@click.option("--json", "as_json", is_flag=True, help="The whole report as JSON.")
@click.option("--lang", "language", type=click.Choice(LANGUAGES), default="en", show_default=True,
              help="The language of the report's words (zh: Simplified Chinese); in JSON, its `words`.")
def evaluate_command(video: Path, audio: Path | None, reference: Path | None, floor: Path | None, preset: str | None, as_json: bool,
                     language: str) -> None:
    """Measure VIDEO's lip sync and mouth quality against the given baselines, with the verdict the
    platform's acceptance gives (sync first, then motion and picture).

    Exit codes: 0 measured and passes, 3 measured and does not pass (see `passed` and the
    summary), 1 the files cannot be read or measured together."""
    from plugins.evaluation import report, words
    from plugins.evaluation.measure import BadInput, measure_files

    try:
        clips, notes = measure_files(video, audio, reference, floor)
    except BadInput as exc:
        raise click.ClickException(str(exc)) from None
    made = report.build(clips, preset or get_settings().intake_preset)
    made["notes"] = [words.note(note) for note in notes]
    if as_json:
        made["words"] = words.lines(report.results(made), language)
        click.echo(json.dumps(made, indent=2, ensure_ascii=False))
    else:
        said = [words.terminal("note", language, note=words.note(note, language)) for note in notes]
        click.echo("\n".join([*said, report.text(made, language)]))
    raise SystemExit(0 if made["passed"] else NOT_PASSED)
