"""`twinforge produce` through a real `twinforge up`, as an operator runs it on a new installation: a
talking-head video made at test time (tests/fixtures/talking_face.py: CI has no recorded samples)
goes through every stage of the default flow with the `tiny` preset (a handful of training steps;
the evaluation's smoke-level limits, plugins/evaluation/thresholds.py, so --auto approves a round
that passed them, never one that did not), is deployed locally and speaks a new sentence.

Asserted on what came out: the deployed service answers, the rendered video lasts as long as the
audio and carries it, and every stage's notifications arrived in order (per stage queued, running,
succeeded; each stage after the stages it needs, the packaging after the round's evaluation and its
approval, the deployment after the packaging; the avatar's seqs contiguous from 1).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request

import av
import grpc
import pytest

from host.approval import APPROVED, EVALUATION_STAGE
from host.channels import host_channel
from host.deployments import DEPLOYED, DEPLOYMENT, PACKAGING
from host.flow import DEFAULT_FLOW
from host.settings import get_settings
from host.supervisor import BUILTIN_PLUGINS
from plugins.media.audio import read_wav
from plugins.tts.engines import speak_espeak
from tests.e2e.test_up import TWINFORGE, running_up, started_pids, wait_for
from tests.fixtures.talking_face import write_talking_face
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
from twinforge.inference.v1 import inference_service_pb2 as inference_pb
from twinforge.inference.v1 import inference_service_pb2_grpc as inference_grpc

PRODUCE_TIMEOUT_S = 480  # about 210 s on a quiet 2-core machine (the round renders two unseen voices besides the test clip)
TRANSITIONS = ("stage_queued", "stage_running", "stage_succeeded", "stage_failed", "stage_cancelled")
SENTENCE = "Thank you for watching. See you next time."


@pytest.fixture
def platform(tmp_path):
    """`twinforge up` with two queue workers, one per core, so that independent stages (the cut-out and
    the first trainers, the four preprocessing stages) run side by side."""
    with running_up(tmp_path, "--cpu-workers", "2") as found:
        yield found


def all_healthy(env: dict[str, str]) -> bool:
    done = subprocess.run([*TWINFORGE, "plugins", "ls", "--json"], env=env, capture_output=True, text=True, timeout=30)
    rows = json.loads(done.stdout) if done.returncode == 0 else []
    return len(rows) == len(BUILTIN_PLUGINS) and all(row["health"] == "healthy" for row in rows)


def notifications(stub, avatar_id: str) -> list:
    """The avatar's notifications from the first, until its deployment's."""
    seen = []
    for reply in stub.WatchNotifications(host_pb.WatchNotificationsRequest(avatar_id=avatar_id, after_seq=0), timeout=30):
        seen.append(reply.notification)
        if reply.notification.kind == DEPLOYED:
            return seen
    raise AssertionError(f"the stream ended before {DEPLOYED}: {[n.kind for n in seen]}")


def assert_in_flow_order(seen: list) -> None:
    assert [n.seq for n in seen] == list(range(1, len(seen) + 1))
    transitions: dict[str, list[str]] = {}
    first: dict[str, int] = {}
    succeeded: dict[str, int] = {}
    for n in seen:
        if n.kind in TRANSITIONS:
            transitions.setdefault(n.stage, []).append(n.kind)
            first.setdefault(n.stage, n.seq)
            if n.kind == "stage_succeeded":
                succeeded[n.stage] = n.seq
    stages = [*DEFAULT_FLOW.needs, PACKAGING, DEPLOYMENT]
    assert set(transitions) == set(stages)
    for stage in stages:
        assert transitions[stage] == ["stage_queued", "stage_running", "stage_succeeded"], stage
    for stage, needs in DEFAULT_FLOW.needs.items():
        for upstream in needs:
            assert succeeded[upstream] < first[stage], f"{stage} was queued before {upstream} succeeded"
    approved = next(n.seq for n in seen if n.kind == APPROVED)
    assert succeeded[EVALUATION_STAGE] < approved < first[PACKAGING] < succeeded[PACKAGING] < first[DEPLOYMENT]


@pytest.mark.timeout(600)
def test_produce_goes_from_a_video_to_a_deployed_avatar_speaking_new_audio(platform, tmp_path, monkeypatch):
    env, up = platform
    started_pids(up)
    video = write_talking_face(tmp_path / "grace.mp4")
    voice = tmp_path / "sentence.wav"
    speak_espeak(SENTENCE, voice)
    samples, rate = read_wav(voice)
    wait_for(lambda: all_healthy(env), 90, "every plugin to be healthy")

    output = tmp_path / "grace_speaks.mp4"
    args = ["produce", str(video), "--name", "grace", "--preset", "tiny", "--auto", "--audio", str(voice), "-o", str(output)]
    done = subprocess.run([*TWINFORGE, *args], env=env, capture_output=True, text=True, timeout=PRODUCE_TIMEOUT_S)
    created = re.search(r"avatar (\w+) \(grace\)", done.stderr)
    assert created, done.stdout + done.stderr
    avatar_id = created.group(1)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        with av.open(str(output)) as container:
            assert container.streams.video and container.streams.audio
            seconds = float(container.duration) / av.time_base
            audio = container.streams.audio[0]
            audio_seconds = float(audio.duration * audio.time_base)
        spoken = len(samples) / rate
        assert abs(seconds - spoken) <= 0.1 and abs(audio_seconds - spoken) <= 0.1, (seconds, audio_seconds, spoken)

        for key in [key for key in os.environ if key.startswith("TWINFORGE_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)  # this process's settings are the platform's: its address, its operator key
        get_settings.cache_clear()
        with host_channel(env["TWINFORGE_HOST_ADDRESS"], get_settings()) as channel:
            stub = host_grpc.HostServiceStub(channel)
            seen = notifications(stub, avatar_id)
            endpoint = stub.GetEndpoint(host_pb.GetEndpointRequest(avatar_id=avatar_id), timeout=30).endpoint
        get_settings.cache_clear()
        assert_in_flow_order(seen)
        with urllib.request.urlopen(f"http://{endpoint.http_address}/healthz", timeout=10) as reply:
            assert reply.status == 200
        with grpc.insecure_channel(endpoint.grpc_address) as service:  # the avatar's own service, not the host
            described = inference_grpc.InferenceServiceStub(service).Describe(inference_pb.DescribeRequest(), timeout=30)
        assert described.avatar_id == avatar_id and described.fps == 25
    finally:  # the local service runs in a session of its own: it outlives `twinforge up` unless undeployed
        undeployed = subprocess.run([*TWINFORGE, "undeploy", avatar_id], env=env, capture_output=True, text=True, timeout=60)
    assert undeployed.returncode == 0, undeployed.stdout + undeployed.stderr
