"""The intake check on real people talking (../shared/samples) and on bad videos made from them
(darkened, blurred, two clips side by side, cut short, stripped of sound, truncated, rotated, ...):
the measures directly, the plugin through the host and the job function with the resubmission loop
and a cancellation mid-run, and `twinforge check` as a command.

Generated videos are cached for the session; each comes from the first seconds of the 60 s congress
sample, which passes `draft`, so each bad video fails for the one reason it was made with."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import grpc
import numpy as np
import pytest

from host.settings import get_settings
from host.storage.blobs import blob_key
from host.channels import host_channel_aio
from plugins.video_analysis.check import check_video
from plugins.video_analysis.server import REJECTED, REPORT_NAME, VideoAnalysis
from scheduler import jobs
from tests.fixtures.services import require_samples, start_plugin
from tests.integration.test_host_flow import upload, wait_registered
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

pytestmark = pytest.mark.samples

ROOT = Path(__file__).resolve().parents[2]
BASE = "congress_60s_256.mp4"
BASE_SECONDS = 32.0  # over draft's 30 s, so that no measure warns for being short
LONG_LOOPS = 10  # the 60 s sample played this many times: a check that runs for seconds
NO_LIMIT = 1 << 40
# What is true of each real sample, and so the only measures it may fail under draft.
SAMPLE_FAILURES = {
    "congress_60s_256.mp4": set(),
    "silent_speaker_10s.mp4": {"duration", "audio_track"},  # 10 s; its speech is in the separate .wav
    "speaker_a_8s_512.mp4": {"duration"},
    "speaker_b_8s_512.mp4": {"duration"},
    "speaker_c_6s.mp4": {"duration", "dropped_frames"},  # every third 30 fps frame time is missing
    "speaker_d_6s.mp4": {"duration"},
    "speaker_e_5s.mp4": {"duration"},
}


def transcode(src: Path, dst: Path, seconds: float, picture=None, sound: str = "keep", rotation: int = 0, times=None) -> Path:
    """Re-encodes the first `seconds` of `src` (H.264 + AAC): `picture` maps each RGB frame,
    `sound` is keep, none or silent, `rotation` sets the display matrix, `times` gives the frame
    times in seconds (a variable frame rate)."""
    with av.open(str(src)) as source, av.open(str(dst), "w") as out:
        vin = source.streams.video[0]
        ain = source.streams.audio[0] if source.streams.audio else None
        frames = []
        for frame in source.decode(vin):
            if frame.time > seconds:
                break
            image = frame.to_ndarray(format="rgb24")
            frames.append(picture(image) if picture else image)
        height, width = frames[0].shape[:2]
        video = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "20"})
        video.width, video.height, video.pix_fmt = width - width % 2, height - height % 2, "yuv420p"
        if times is not None:
            video.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            video.set_display_rotation(rotation)
        audio = out.add_stream("aac", rate=ain.codec_context.sample_rate, layout="mono") if ain is not None and sound != "none" else None
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[: video.height, : video.width]), format="rgb24")
            if times is not None:
                frame.pts, frame.time_base = int(round(times[index] * 1000)), Fraction(1, 1000)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio is not None:
            rate = ain.codec_context.sample_rate
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
            source.seek(0)
            pieces = [f.to_ndarray() for frame in source.decode(ain) for f in resampler.resample(frame)]
            samples = np.concatenate(pieces, axis=1)[:, : int(seconds * rate)]
            if sound == "silent":
                samples = np.zeros_like(samples)
            for start in range(0, samples.shape[1], 1024):
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start : start + 1024]), format="fltp", layout="mono")
                chunk.sample_rate = rate
                for packet in audio.encode(chunk):
                    out.mux(packet)
            for packet in audio.encode():
                out.mux(packet)
    return dst


class Media:
    """Bad videos made on demand from the samples, once per test session."""

    def __init__(self, samples: Path, folder: Path) -> None:
        self.samples = samples
        self.folder = folder
        self.made: dict[str, Path] = {}

    def __getitem__(self, name: str) -> Path:
        if name not in self.made:
            self.made[name] = getattr(self, f"make_{name}")(self.folder / f"{name}.mp4")
        return self.made[name]

    def base(self, dst: Path, **kwargs) -> Path:
        return transcode(self.samples / BASE, dst, kwargs.pop("seconds", BASE_SECONDS), **kwargs)

    def make_good(self, dst):
        return self.base(dst)

    def make_too_short(self, dst):
        return self.base(dst, seconds=10)

    def make_no_audio(self, dst):
        return self.base(dst, sound="none")

    def make_silent_audio(self, dst):
        return self.base(dst, sound="silent")

    def make_no_face(self, dst):  # the empty studio wall left of the speaker, enlarged
        return self.base(dst, picture=lambda rgb: cv2.resize(rgb[:, :56], (256, 256), interpolation=cv2.INTER_CUBIC))

    def make_two_faces(self, dst):  # the clip beside its mirror image
        return self.base(dst, picture=lambda rgb: np.hstack([rgb, rgb[:, ::-1]]))

    def make_too_dark(self, dst):
        return self.base(dst, picture=lambda rgb: (rgb * 0.18).astype(np.uint8))

    def make_too_blurry(self, dst):
        return self.base(dst, picture=lambda rgb: cv2.GaussianBlur(rgb, (0, 0), 4))

    def make_variable_frame_rate(self, dst):  # about a third of the frame intervals wander by up to 30%
        count = int(BASE_SECONDS * 25) + 1
        rng = np.random.default_rng(3)
        steps = np.where(rng.random(count) < 0.3, rng.uniform(0.7, 1.3, count), 1.0)
        times = np.concatenate([[0.0], np.cumsum(steps)])[:count]
        return self.base(dst, times=times / times[-1] * (count - 1) / 25)  # the same length as the sound

    def make_phone(self, dst):  # portrait, stored sideways with a rotation flag, as phones record
        def sideways(rgb):
            portrait = cv2.copyMakeBorder(rgb, 32, 32, 0, 0, cv2.BORDER_REPLICATE)  # 256 x 320
            return np.rot90(portrait, -1)  # stored 320 x 256; turning it 90° counter-clockwise shows it upright
        return self.base(dst, picture=sideways, rotation=90)

    def make_portrait(self, dst):  # 9:16
        return self.base(dst, picture=lambda rgb: cv2.copyMakeBorder(rgb, 100, 100, 0, 0, cv2.BORDER_REPLICATE))

    def make_truncated(self, dst):  # the index (moov) is written last, so the cut file has none
        data = self["good"].read_bytes()
        dst.write_bytes(data[: len(data) // 2])
        return dst

    def make_cut_off(self, dst):  # index first (faststart), then cut: only the first part decodes
        full = self.folder / "faststart.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(self["good"]), "-c", "copy", "-movflags", "+faststart", str(full)], check=True)
        data = full.read_bytes()
        dst.write_bytes(data[: int(len(data) * 0.6)])
        return dst

    def make_long(self, dst):  # stream copy: made in a moment, checked in seconds
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-stream_loop", str(LONG_LOOPS - 1), "-i", str(self.samples / BASE), "-c", "copy", str(dst)],
            check=True,
        )
        return dst

    def make_png(self, dst):
        with av.open(str(self.samples / BASE)) as source:
            image = next(source.decode(video=0)).to_ndarray(format="bgr24")
        dst.write_bytes(cv2.imencode(".png", image)[1].tobytes())
        return dst

    def make_zip(self, dst):
        with zipfile.ZipFile(dst, "w") as archive:
            archive.writestr("notes.txt", "not a video " * 200)
        return dst

    def make_empty(self, dst):
        dst.write_bytes(b"")
        return dst


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Media:
    return Media(require_samples(), tmp_path_factory.mktemp("intake-media"))


def by_name(report: dict) -> dict[str, dict]:
    return {row["name"]: row for row in report["measures"]}


def failing(report: dict) -> set[str]:
    return {row["name"] for row in report["measures"] if row["status"] == "fail"}


# The measures on real samples --------------------------------------------------------------------


@pytest.mark.parametrize("sample", sorted(SAMPLE_FAILURES))
def test_real_sample_passes_draft_or_fails_for_what_is_true_of_it(sample):
    report = check_video(require_samples() / sample, "draft", NO_LIMIT)
    assert failing(report) == SAMPLE_FAILURES[sample], json.dumps(report, indent=1)
    assert report["verdict"] == ("pass" if not SAMPLE_FAILURES[sample] else "fail")
    for row in report["measures"]:
        assert set(row) == {"name", "value", "unit", "status", "advice", "advice_code", "advice_values"}
        assert (row["status"] == "pass") == (row["advice"] == ""), row
    rows = by_name(report)
    if sample != "silent_speaker_10s.mp4":
        assert rows["face_visible"]["value"] == 100.0 and rows["single_face"]["value"] == 100.0
        assert rows["speech_share"]["value"] > 50


def test_congress_sample_measures(media):
    rows = by_name(check_video(media.samples / BASE, "draft", NO_LIMIT))
    assert rows["duration"]["value"] == pytest.approx(60.0, abs=0.1)
    assert rows["frame_rate"]["value"] == pytest.approx(25.0)
    assert rows["resolution"] == {**rows["resolution"], "value": 256, "status": "warning"}
    assert 130 < rows["face_size"]["value"] < 165  # "about 150 px wide", samples/README.md
    assert rows["audio_sample_rate"]["value"] == 48000
    assert -30 < rows["loudness"]["value"] < -10
    # the same video is too small for the standard preset: the advice names the numbers to reach
    strict = by_name(check_video(media.samples / BASE, "standard", NO_LIMIT))
    assert strict["face_size"]["status"] == "fail"
    assert strict["face_size"]["advice"].startswith(f"the face is {strict['face_size']['value']} px wide; move closer")
    assert "at least 256 px" in strict["face_size"]["advice"]


# Bad input: each fails (or warns) on the right measure, with advice ----------------------------------


@pytest.mark.parametrize(
    "name, measure, words, consequences",
    [
        ("too_short", "duration", "10 s long, under the 15 s this avatar needs; record at least 15 s", set()),
        ("no_audio", "audio_track", "no sound track", set()),
        ("silent_audio", "loudness", "silent", set()),
        ("no_face", "face_visible", "a face is seen in 0% of the examined frames", set()),
        ("two_faces", "single_face", "record alone in the picture", set()),
        ("too_dark", "face_brightness", "too dark", {"frame_brightness", "sharpness"}),  # dim means low contrast
        ("too_blurry", "sharpness", "blurry", set()),
        ("cut_off", "completeness", "cut off", {"duration"}),  # what is left is too short
    ],
)
def test_bad_video_fails_the_right_measure(media, name, measure, words, consequences):
    report = check_video(media[name], "draft", NO_LIMIT)
    assert report["verdict"] == "fail"
    assert measure in failing(report) and failing(report) <= {measure} | consequences, json.dumps(report, indent=1)
    assert words in by_name(report)[measure]["advice"]


def test_silent_track_also_has_no_speech_left_to_measure(media):
    rows = by_name(check_video(media["silent_audio"], "draft", NO_LIMIT))
    assert rows["loudness"]["value"] == -120.0
    assert "speech_share" not in rows  # nothing to measure in silence: loudness says why


def test_dark_video_says_it_is_too_dark(media):
    rows = by_name(check_video(media["too_dark"], "draft", NO_LIMIT))
    assert rows["frame_brightness"]["status"] == "fail" and "the picture is too dark" in rows["frame_brightness"]["advice"]
    assert rows["face_visible"]["status"] == "pass"  # the face is still found; it is the light that fails


@pytest.mark.parametrize("name", ["truncated", "png", "zip", "empty"])
def test_unreadable_file_fails_the_container_measure(media, name):
    report = check_video(media[name], "draft", NO_LIMIT)
    assert report["verdict"] == "fail"
    (container,) = [row for row in report["measures"] if row["name"] == "container"]
    assert container["status"] == "fail" and container["advice"]
    expected = {"png": "still image", "empty": "empty (0 bytes)"}.get(name, "cannot be read as a video")
    assert expected in container["advice"]


def test_file_over_the_size_limit_is_refused_without_decoding(media):
    limit = media["good"].stat().st_size - 1
    report = check_video(media["good"], "draft", limit)
    assert failing(report) == {"file_size"} and len(report["measures"]) == 1
    assert "the limit is" in report["measures"][0]["advice"]


def test_variable_frame_rate_warns_in_draft_and_fails_high(media):
    draft = by_name(check_video(media["variable_frame_rate"], "draft", NO_LIMIT))
    assert draft["frame_rate_variation"]["status"] == "warning" and "constant 25 or 30 fps" in draft["frame_rate_variation"]["advice"]
    assert draft["dropped_frames"]["status"] == "pass"
    high = by_name(check_video(media["variable_frame_rate"], "high", NO_LIMIT))
    assert high["frame_rate_variation"]["status"] == "fail"


def test_phone_video_is_turned_upright_by_its_rotation_flag(media):
    report = check_video(media["phone"], "draft", NO_LIMIT)
    rows = by_name(report)
    assert rows["rotation"]["value"] == 90 and rows["rotation"]["status"] == "warning"
    assert rows["aspect_ratio"]["value"] == pytest.approx(256 / 320, abs=0.01)  # shown 256 x 320, portrait
    assert rows["aspect_ratio"]["status"] == "warning" and "portrait (256x320)" in rows["aspect_ratio"]["advice"]
    # measured upright: the face sits where a viewer sees it, near the middle, not cut off
    assert rows["face_visible"]["value"] == 100.0 and rows["face_cut_off"]["value"] == 0.0
    assert rows["face_offset"]["value"] < 15 and report["verdict"] == "pass"


def test_portrait_video_warns(media):
    rows = by_name(check_video(media["portrait"], "draft", NO_LIMIT))
    assert rows["aspect_ratio"]["value"] == pytest.approx(9 / 16, abs=0.01)
    assert rows["aspect_ratio"]["status"] == "warning" and "hold the phone sideways" in rows["aspect_ratio"]["advice"]


# The plugin through the host and the job function ------------------------------------------------------


async def run_submission(stub, avatar_id: str, path: Path) -> host_pb.StageRun:
    video = await upload(stub, avatar_id, path, chunk=1 << 20)
    (run,) = (await stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatar_id, video=video))).started
    assert run.stage == "video_analysis"
    await asyncio.to_thread(jobs.run_stage, run.run_id)
    runs = (await stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar_id, stage="video_analysis"))).runs
    return next(r for r in runs if r.run_id == run.run_id)


async def download(stub, key: str) -> bytes:
    return b"".join([r.chunk async for r in stub.DownloadArtifact(host_pb.DownloadArtifactRequest(key=key))])


async def test_rejected_video_is_resubmitted_and_every_version_keeps_its_report(host, runtime, media, monkeypatch):
    monkeypatch.setenv("TWINFORGE_INTAKE_PRESET", "draft")
    get_settings.cache_clear()
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        await start_plugin(VideoAnalysis(), stack)
        await wait_registered(stub, "video_analysis")
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Ted", owner="cli:ted"))).avatar

        first = await run_submission(stub, avatar.avatar_id, media["too_short"])
        assert first.state == host_pb.STAGE_STATE_FAILED and first.submission_version == 1
        assert first.error.code == REJECTED
        assert "duration (10.0 s)" in first.error.message
        assert "record at least 15 s" in first.error.advice and "next version" in first.error.advice
        (kept,) = first.outputs
        assert kept.kind == "intake_report"
        rejected = json.loads(first.summary_json)
        assert rejected["verdict"] == "fail" and rejected["preset"] == "draft"
        assert json.loads(await download(stub, kept.key)) == rejected

        second = await run_submission(stub, avatar.avatar_id, media.samples / BASE)
        assert second.state == host_pb.STAGE_STATE_SUCCEEDED and second.submission_version == 2
        accepted = json.loads(second.summary_json)
        assert accepted["verdict"] == "pass"
        assert json.loads(await download(stub, second.outputs[0].key)) == accepted

        runs = (await stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar.avatar_id, stage="video_analysis"))).runs
        assert sorted((r.submission_version, r.state) for r in runs) == [(1, host_pb.STAGE_STATE_FAILED), (2, host_pb.STAGE_STATE_SUCCEEDED)]
        versions = (await stub.GetAvatar(host_pb.GetAvatarRequest(avatar_id=avatar.avatar_id))).avatar.submissions
        assert [s.version for s in versions] == [1, 2]

        # the person is told: each result notification carries the report
        results = {}
        async for reply in stub.WatchNotifications(host_pb.WatchNotificationsRequest(avatar_id=avatar.avatar_id)):
            n = reply.notification
            if n.kind in ("stage_failed", "stage_succeeded"):
                results[n.kind] = json.loads(n.payload_json)
            if len(results) == 2:
                break
        assert results["stage_failed"]["summary"] == rejected
        assert results["stage_failed"]["error"]["code"] == REJECTED
        assert results["stage_succeeded"]["summary"] == accepted


async def test_unreadable_and_oversized_videos_are_rejected_with_their_report(host, runtime, media, monkeypatch):
    monkeypatch.setenv("TWINFORGE_INTAKE_PRESET", "draft")
    monkeypatch.setenv("TWINFORGE_MAX_VIDEO_BYTES", str(media["no_audio"].stat().st_size - 1))
    get_settings.cache_clear()
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        await start_plugin(VideoAnalysis(), stack)
        await wait_registered(stub, "video_analysis")
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Una", owner="cli:una"))).avatar
        for version, (name, measure) in enumerate([("truncated", "container"), ("no_audio", "file_size"), ("too_short", "duration")], 1):
            run = await run_submission(stub, avatar.avatar_id, media[name])
            assert run.state == host_pb.STAGE_STATE_FAILED and run.submission_version == version
            assert run.error.code == REJECTED and measure in run.error.message
            assert measure in failing(json.loads(run.summary_json)) and run.outputs[0].kind == "intake_report"
        # a ZIP renamed to .mp4 does not even become a submission: its bytes are refused at upload
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await upload(stub, avatar.avatar_id, media["zip"])
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "application/zip" in refused.value.details()


async def first_progress(stub, avatar_id: str, run_id: str) -> None:
    """Follows the avatar's notifications until the run reports progress (it has started checking)."""
    async for reply in stub.WatchNotifications(host_pb.WatchNotificationsRequest(avatar_id=avatar_id)):
        if reply.notification.kind == "stage_progress" and reply.notification.run_id == run_id:
            return


def intake_threads() -> list[threading.Thread]:
    """The check's analysis threads running in this process (the plugin serves from the test's loop)."""
    return [t for t in threading.enumerate() if t.name.startswith("intake-")]


async def test_cancelled_check_stops_and_keeps_the_video_and_earlier_reports(host, runtime, media, monkeypatch):
    monkeypatch.setenv("TWINFORGE_INTAKE_PRESET", "draft")
    get_settings.cache_clear()
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        await start_plugin(VideoAnalysis(), stack)
        await wait_registered(stub, "video_analysis")
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Cy", owner="cli:cy"))).avatar
        earlier = await run_submission(stub, avatar.avatar_id, media["too_short"])
        assert earlier.state == host_pb.STAGE_STATE_FAILED

        video = await upload(stub, avatar.avatar_id, media["long"], chunk=1 << 20)
        (run,) = (await stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatar.avatar_id, video=video))).started
        job = asyncio.create_task(asyncio.to_thread(jobs.run_stage, run.run_id))
        await asyncio.wait_for(first_progress(stub, avatar.avatar_id, run.run_id), timeout=60)

        asked_at = time.monotonic()
        reply = await stub.CancelStageRun(host_pb.CancelStageRunRequest(run_id=run.run_id, reason="a better video is coming"))
        assert reply.run.state == host_pb.STAGE_STATE_RUNNING  # asked to stop; its worker confirms
        assert await asyncio.wait_for(job, timeout=10) == "cancelled"
        assert time.monotonic() - asked_at < 5

        # the check itself stopped mid-video: its threads ended and it wrote no report
        deadline = time.monotonic() + 5
        while intake_threads() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not intake_threads(), "the check went on after the run was cancelled"
        assert not runtime.blobs.exists(blob_key(avatar.avatar_id, "video_analysis", run.run_id, REPORT_NAME))

        runs = {r.run_id: r for r in (await stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar.avatar_id, stage="video_analysis"))).runs}
        assert runs[run.run_id].state == host_pb.STAGE_STATE_CANCELLED and not runs[run.run_id].outputs
        assert runs[earlier.run_id].state == host_pb.STAGE_STATE_FAILED

        # kept: the submitted video, and the earlier version with its video and report
        submissions = (await stub.GetAvatar(host_pb.GetAvatarRequest(avatar_id=avatar.avatar_id))).avatar.submissions
        assert [(s.version, s.video.key) for s in submissions][-1] == (2, video.key)
        for kept in (video, submissions[0].video):
            assert runtime.blobs.exists(kept.key) and runtime.blobs.stat(kept.key).sha256 == kept.sha256
        assert runtime.blobs.stat(video.key).size == media["long"].stat().st_size
        (report,) = runs[earlier.run_id].outputs
        assert json.loads(await download(stub, report.key)) == json.loads(earlier.summary_json)


# The command -------------------------------------------------------------------------------------------


def twinforge_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "host.cli", "check", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_check_command_exit_codes(media):
    passed = twinforge_check(str(media.samples / BASE), "--preset", "draft", "--json")
    assert passed.returncode == 0, passed.stderr
    assert json.loads(passed.stdout)["verdict"] == "pass"

    failed = twinforge_check(str(media["too_short"]), "--preset", "draft")
    assert failed.returncode == 1, failed.stderr
    assert "FAIL (draft preset)" in failed.stdout
    (line,) = [row for row in failed.stdout.splitlines() if row.startswith("duration ")]
    assert "fail" in line and "record at least 15 s" in line

    unreadable = twinforge_check(str(media["zip"]), "--json")
    assert unreadable.returncode == 2, unreadable.stderr
    assert by_name(json.loads(unreadable.stdout))["container"]["status"] == "fail"


def test_generated_clip_is_checked_without_the_samples(tmp_path):
    """A second of a moving gradient and a tone (no person): measured, rejected, never a crash."""
    from tests.fixtures.media import write_test_video

    report = check_video(write_test_video(tmp_path / "tone.mp4", seconds=1.0), "draft", NO_LIMIT)
    assert {"duration", "face_visible"} <= failing(report)
    assert by_name(report)["audio_track"]["value"] is True and by_name(report)["frame_rate"]["value"] == pytest.approx(25.0)


def test_check_command_speaks_chinese(tmp_path):
    """`--lang zh`: the headline, the measures, their values and the advice in Chinese; the exit code as in English."""
    from tests.fixtures.media import write_test_video

    video = write_test_video(tmp_path / "short.mp4", seconds=2.0)
    said = twinforge_check(str(video), "--preset", "draft", "--lang", "zh")
    assert said.returncode == 1, said.stderr
    assert "没有通过（draft 标准）" in said.stdout
    (line,) = [row for row in said.stdout.splitlines() if row.startswith("时长\t")]
    assert "2.0 秒\t没有通过\t视频只有 2 秒，不到这个分身需要的 15 秒" in line
    as_json = json.loads(twinforge_check(str(video), "--preset", "draft", "--lang", "zh", "--json").stdout)
    duration = by_name(as_json)["duration"]
    assert duration["advice"].startswith("视频只有 2 秒") and duration["advice_code"] == "duration_too_short"
