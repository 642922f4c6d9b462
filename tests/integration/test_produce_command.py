"""`twinforge produce` against a real host on loopback, where it must stop: no plugin serves the
first stage yet, so it says so and what to do, and running it again goes on with the same avatar
and the same uploaded video instead of starting over. (The whole flow, from a sample to a deployed
avatar, is measured in the closing notes of issue #11; it trains for minutes.)"""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner

from host.cli import main as cli
from host.settings import get_settings
from host.storage import models
from tests.fixtures.media import write_test_video


async def test_produce_says_what_stops_it_and_a_second_run_goes_on_with_the_same_avatar(host, tmp_path) -> None:
    video = write_test_video(tmp_path / "anna.mp4")
    args = ["produce", str(video), "--name", "anna", "--preset", "draft", "--auto"]
    first = await asyncio.to_thread(CliRunner().invoke, cli, args)
    assert first.exit_code == 1 and "no registered plugin serves stage 'video_analysis'" in first.output
    assert "start a plugin that serves 'video_analysis'" in first.output
    (state_file,) = (get_settings().resolved_data_dir / "produce").iterdir()
    avatar_id = json.loads(state_file.read_text())["avatar_id"]
    second = await asyncio.to_thread(CliRunner().invoke, cli, args)
    assert second.exit_code == 1 and f"avatar {avatar_id} (anna)" in second.output
    assert models.Avatar.select().count() == 1 and models.Artifact.select().where(models.Artifact.kind == "video").count() == 1


async def test_produce_refuses_an_unknown_preset_before_touching_the_host(host, tmp_path) -> None:
    video = write_test_video(tmp_path / "anna.mp4")
    refused = await asyncio.to_thread(CliRunner().invoke, cli, ["produce", str(video), "--name", "anna", "--preset", "huge"])
    assert refused.exit_code == 2 and "'huge' is not one of 'tiny', 'draft', 'standard', 'high'" in refused.output
    assert models.Avatar.select().count() == 0
