"""The plugin guide's complete plugin (docs/plugin-guide.md, the first ```python block under "A
complete plugin you can run"), taken from the guide as written and run as a plugin author would:
served over gRPC on loopback, registered with a real host, its stage started by a submission in
the flow and driven as a queue worker would, on a real small video."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import types
from pathlib import Path

from host.channels import host_channel_aio
from host.flow import Flow
from host.settings import get_settings
from plugins.sdk.plugin import Plugin
from scheduler import jobs
from tests.fixtures.media import write_test_video
from tests.fixtures.services import start_plugin
from tests.integration.test_host_flow import upload, wait_registered
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugin-guide.md"
HEADING = "## A complete plugin you can run"


def guide_snippet() -> str:
    """The first ```python block of the guide's section HEADING (up to the next heading)."""
    text = GUIDE.read_text()
    assert HEADING in text, f"{GUIDE} lost its section {HEADING!r}"
    section = re.split(r"^## ", text.split(HEADING, 1)[1], flags=re.M)[0]
    found = re.search(r"^```python\n(.*?)^```", section, re.S | re.M)
    assert found, f"no ```python block under {HEADING!r} in {GUIDE}"
    return found.group(1)


def guide_plugin() -> Plugin:
    """The snippet executed as a module of its own (not as __main__, so it does not serve), and its
    one Plugin class instantiated."""
    module = types.ModuleType("plugin_guide_example")
    module.__file__ = str(GUIDE)
    exec(compile(guide_snippet(), f"{GUIDE} ({HEADING[3:]})", "exec"), module.__dict__)
    (cls,) = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Plugin) and v is not Plugin]
    return cls()


@contextlib.asynccontextmanager
async def serving(host, runtime):
    """The guide's plugin serving and registered with the host, its stage the root of the flow;
    yields (host stub, plugin)."""
    plugin = guide_plugin()
    (stage,) = plugin.stages
    runtime.flow = Flow(needs={stage: ()})
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        await start_plugin(plugin, stack)
        await wait_registered(stub, stage)
        yield stub, plugin


async def submit_and_run(stub, stage: str, video: Path, owner: str, preset: str = "") -> host_pb.StageRun:
    """Uploads the video, submits it (the flow starts the stage) and drives the run as a worker would."""
    avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Guide", owner=owner))).avatar.avatar_id
    ref = await upload(stub, avatar, video)
    request = host_pb.CreateSubmissionRequest(avatar_id=avatar, video=ref, preset=preset)
    (run,) = (await stub.CreateSubmission(request)).started
    assert run.stage == stage and run.state == host_pb.STAGE_STATE_QUEUED
    await asyncio.to_thread(jobs.run_stage, run.run_id)
    (done,) = (await stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar, stage=stage))).runs
    return done


async def test_the_guides_plugin_runs_its_stage_against_a_real_host(host, runtime, tmp_path):
    async with serving(host, runtime) as (stub, plugin):
        stage = plugin.stages[0]
        video = write_test_video(tmp_path / "two-seconds.mp4", seconds=2.0, fps=25, size=64)
        run = await submit_and_run(stub, stage, video, "cli:guide", preset="draft")

        assert run.state == host_pb.STAGE_STATE_SUCCEEDED, run.error
        assert json.loads(run.parameters_json) == {"preset": "draft"}  # the submission's preset reached it
        summary = json.loads(run.summary_json)
        assert summary == {
            "frames": 50,
            "fps": 25.0,
            "duration_s": 2.0,
            "width": 64,
            "height": 64,
            "preset": "draft",
            "shortest_s": 15,  # the draft intake check's shortest video
            "long_enough": False,
        }

        (report,) = run.outputs
        assert report.kind == "video_facts" and report.name == "video_facts.json"
        assert report.key == f"avatars/{run.avatar_id}/{stage}/{run.run_id}/video_facts.json"
        assert json.loads(report.metadata_json) == {"frames": 50, "duration_s": 2.0}
        assert runtime.blobs.exists(report.key)
        stored = b"".join([r.chunk async for r in stub.DownloadArtifact(host_pb.DownloadArtifactRequest(key=report.key))])
        assert json.loads(stored) == summary
        assert run.progress == 1.0 and run.progress_message == "50 frames, 2.0 s"


async def test_the_guides_plugin_fails_a_file_that_is_no_video_with_its_advice(host, runtime, tmp_path):
    """An MP4 cut short after its first 2 KB: its signature gets it past the host's upload check,
    but there is no picture in it to decode."""
    async with serving(host, runtime) as (stub, plugin):
        whole = write_test_video(tmp_path / "whole.mp4").read_bytes()
        cut = tmp_path / "cut-short.mp4"
        cut.write_bytes(whole[:2048])
        run = await submit_and_run(stub, plugin.stages[0], cut, "cli:guide-bad")

        assert run.state == host_pb.STAGE_STATE_FAILED
        assert run.error.code == "unreadable_video"
        assert run.error.message.startswith("the file cannot be read as a video")
        assert run.error.advice == "send an MP4, MOV, MKV or WebM file straight from the camera"
        assert list(run.outputs) == [] and json.loads(run.parameters_json) == {}
