"""`twinforge render`: which stored artifacts a render reads (the newest of each kind, all of one video
version), what it says when one is missing, and its refusals before it asks the host anything."""

from __future__ import annotations

import json
import shutil

import click
import pytest
from click.testing import CliRunner
from google.protobuf.timestamp_pb2 import Timestamp

from host.render_command import find_sources, missing_models, parse_colour, render_command
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

VIDEO = {1: plugin_pb.ArtifactRef(key="avatars/a1/uploads/u1/video", kind="video"), 2: plugin_pb.ArtifactRef(key="avatars/a1/uploads/u2/video", kind="video")}


def run(stage: str, version: int, second: int, outputs: list[tuple[str, str]], state: int = host_pb.STAGE_STATE_SUCCEEDED, inputs=(), metadata: dict | None = None) -> host_pb.StageRun:
    return host_pb.StageRun(
        run_id=f"{stage}-{version}-{second}", avatar_id="a1", stage=stage, state=state, submission_version=version,
        updated_at=Timestamp(seconds=second), inputs=list(inputs),
        outputs=[plugin_pb.ArtifactRef(key=f"avatars/a1/{stage}/{second}/{name}", kind=kind, name=name, metadata_json=json.dumps(metadata or {})) for kind, name in outputs],
    )


def history() -> list[host_pb.StageRun]:
    return [
        run("crop", 1, 10, [("training_set", "training_set.zip")], inputs=[VIDEO[1]]),
        run("material_extraction", 1, 11, [("materials", "materials.json")]),
        run("generator", 1, 12, [("model", "generator.pt")], metadata={"submodel": "generator"}),
        run("crop", 2, 20, [("training_set", "training_set.zip")], inputs=[VIDEO[2]]),
        run("material_extraction", 2, 21, [("materials", "materials.json"), ("cutout", "cutout.npz")]),
        run("interactive_edit", 2, 25, [("materials", "materials.json")]),
        run("audio2lip", 2, 22, [("model", "audio2lip.pt")], metadata={"submodel": "audio2lip"}),
        run("generator", 2, 23, [("model", "generator.pt")], metadata={"submodel": "generator"}),
        run("generator", 2, 30, [("model", "generator.pt")], state=host_pb.STAGE_STATE_FAILED, metadata={"submodel": "generator"}),
        run("generator", 2, 26, [("model", "generator.pt")], metadata={"submodel": "generator"}),
    ]


def test_a_render_reads_the_newest_succeeded_artifacts_of_the_newest_video() -> None:
    sources = find_sources("a1", history())
    assert sources.version == 2
    assert sources.video == VIDEO[2]
    assert sources.training_set.key == "avatars/a1/crop/20/training_set.zip"
    assert sources.materials.key == "avatars/a1/interactive_edit/25/materials.json"  # the person's edit wins
    assert sources.cutout.key == "avatars/a1/material_extraction/21/cutout.npz"
    assert {name: ref.key for name, ref in sources.models.items()} == {
        "audio2lip": "avatars/a1/audio2lip/22/audio2lip.pt",
        "generator": "avatars/a1/generator/26/generator.pt",  # the newest that succeeded, not the failed one
    }
    assert missing_models(sources.models) == []


def test_a_video_version_without_its_own_models_reports_them_missing() -> None:
    runs = [r for r in history() if not (r.submission_version == 2 and r.stage in ("audio2lip", "generator"))]
    sources = find_sources("a1", runs)
    assert sources.version == 2 and missing_models(sources.models) == ["audio2lip", "generator"]


@pytest.mark.parametrize(
    ("runs", "words"),
    [
        ([], "the crop stage must succeed first"),
        ([run("crop", 1, 10, [("training_set", "t.zip")], inputs=[VIDEO[1]])], "run the material_extraction"),
        ([run("crop", 1, 10, [("training_set", "t.zip")], state=host_pb.STAGE_STATE_RUNNING)], "the crop stage must succeed first"),
    ],
)
def test_a_missing_artifact_names_the_stage_that_makes_it(runs, words: str) -> None:
    with pytest.raises(click.ClickException) as failed:
        find_sources("a1", runs)
    assert words in failed.value.message


def test_background_colours_are_written_as_hex() -> None:
    assert parse_colour("#00b140") == (0, 177, 64) and parse_colour("FFFFFF") == (255, 255, 255) and parse_colour(None) is None
    for bad in ("green", "#12345", "#gg0000"):
        with pytest.raises(click.BadParameter):
            parse_colour(bad)


def test_the_command_wants_exactly_one_of_audio_and_text(tmp_path) -> None:
    sound = tmp_path / "a.wav"
    sound.write_bytes(b"")
    runner = CliRunner()
    neither = runner.invoke(render_command, ["a1", "-o", str(tmp_path / "o.mp4")])
    both = runner.invoke(render_command, ["a1", "--audio", str(sound), "--text", "hello", "-o", str(tmp_path / "o.mp4")])
    assert neither.exit_code == both.exit_code == 2
    assert "exactly one of --audio and --text" in neither.output and "exactly one of --audio and --text" in both.output


@pytest.mark.skipif(shutil.which("espeak-ng") is not None, reason="a text-to-speech engine is installed here")
def test_text_is_refused_with_what_to_install_when_no_speech_engine_is_installed(tmp_path) -> None:
    result = CliRunner().invoke(render_command, ["a1", "--text", "hello", "-o", str(tmp_path / "o.mp4")])
    assert result.exit_code == 2  # refused before asking the host (which is not running: that would be 3)
    assert "text-to-speech" in result.output and "--audio" in result.output
