"""The live avatar over WebRTC, end to end: the inference service as it is deployed (a process on a
bundle of a tiny model trained on 20 s of a real person) and aiortc as the person's browser. It
idles on the driving clip with silence, answers a typed question with the chat endpoint's reply in
the avatar's face and voice, picture and sound leaving together, and a second question cuts the
first answer short; a service holding its most conversations refuses the next in words; its peer
gathers candidates through the STUN server it is configured with. The chat endpoint and the STUN
server are local stand-ins (no such service can be reached from here)."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from plugins.inference.brain import Brain, chat_endpoint
from plugins.sdk.errors import StageFailed
from tests.fixtures.live import ChatStandIn, LiveClient, StunStandIn, inference_service, post_json

pytestmark = pytest.mark.samples

REPLY = "I am well, thank you for asking."
FIRST_FRAME_BOUND_S = 8.0  # speech, Whisper's window and the first batch on two cores shared with other work; bench.live measures it
MOST_AV_OFFSET_S = 0.040


@pytest.fixture(scope="module")
def chat():
    with ChatStandIn(REPLY) as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def stun():
    with StunStandIn() as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def live(live_bundle, chat, stun, tmp_path_factory):
    with inference_service(live_bundle, tmp_path_factory.mktemp("live"), live_sessions="1", brain_url=chat.url,
                           brain_model="house-model", brain_api_key="sk-test", live_ice_servers=stun.url) as ready:
        yield f"http://{ready['http']}"


def close(http: str, session: str) -> int:
    request = urllib.request.Request(f"{http}/live/{session}", method="DELETE")
    with urllib.request.urlopen(request, timeout=30) as reply:
        return reply.status


async def test_the_avatar_idles_answers_live_in_its_face_and_voice_and_a_new_question_interrupts(live, chat):
    client = LiveClient()
    try:
        await client.connect(live)
        _, ready = await client.event("ready")
        assert ready["brain"] == "chat"
        got = client.received
        await client.until(lambda: len(got.video) >= 25 and len(got.audio) >= 50, "a second of the idle avatar", 20)
        assert {(w, h) for _, _, w, h in got.video} == {(256, 256)} and {rate for *_, rate in got.audio} == {48000}
        assert max(level for _, _, level, _ in got.audio) < 1.0, "between answers the avatar is silent"

        asked = client.say("How are you?")
        _, reply = await client.event("reply", 1)
        assert reply["text"] == REPLY
        at, speaking = await client.event("speaking", 1, timeout_s=FIRST_FRAME_BOUND_S + 5)
        assert at - asked < FIRST_FRAME_BOUND_S and speaking["latency_s"] < FIRST_FRAME_BOUND_S and speaking["frames"] > 25
        headers, body = chat.requests[-1]
        assert body["model"] == "house-model" and headers["Authorization"] == "Bearer sk-test"
        assert body["messages"][0]["role"] == "system" and body["messages"][-1] == {"role": "user", "content": "How are you?"}
        await client.until(lambda: any(level > 100 for t, _, level, _ in got.audio if t >= at - 0.2), "the answer's sound", 10)

        client.say("Wait, one more thing.")
        await client.event("interrupted", 1, timeout_s=5)
        second_at, second = await client.event("speaking", 2, timeout_s=FIRST_FRAME_BOUND_S + 5)
        assert [m["role"] for m in chat.requests[-1][1]["messages"]] == ["system", "user", "assistant", "user"], "the brain hears the conversation"
        _, done = await client.event("done", 2, timeout_s=30)
        assert done["frames"] == second["frames"]

        client.channel.send(json.dumps({"type": "stats"}))
        _, stats = await client.event("stats")
        assert stats["av_offset_ms"]["ticks"] > 25 and stats["av_offset_ms"]["max"] <= 1000 * MOST_AV_OFFSET_S
        # At the receiver: the answer's first frame and its first sound come out of the decoders together.
        picture = next(t for t, tick, _, _ in got.video if tick >= second["tick"])
        sound = next(t for t, first, _, _ in got.audio if first >= second["tick"] * 1920)
        ticks = [tick for _, tick, _, _ in got.video]
        span = got.video[-1][0] - got.video[0][0]
        print(f"first frame {at - asked:.2f} s after the question (service: {speaking['latency_s']:.2f} s), second {second['latency_s']:.2f} s; "
              f"{len(ticks) / span:.1f} fps received, A/V as sent {stats['av_offset_ms']}, at the receiver {1000 * (sound - picture):.0f} ms")
        assert ticks == sorted(ticks) and len(ticks) / span > 20
        assert abs(sound - picture) < 0.25  # aiortc's receiver has no playout sync: this bounds both decoders' buffering
        assert second_at > at
    finally:
        await client.close()
        close(live, client.session)


async def test_the_services_peer_gathers_candidates_through_the_stun_server_it_is_given(live, stun):
    client = LiveClient()
    try:
        await client.connect(live)
        assert stun.asked, "the service's peer asked the STUN server for its outside address"
        with urllib.request.urlopen(f"{live}/live", timeout=10) as reply:
            assert json.loads(reply.read())["ice_servers"] == [stun.url]
    finally:
        await client.close()
        close(live, client.session)


async def test_a_service_holding_its_most_conversations_refuses_the_next_in_words(live, stun):
    first, second, third = LiveClient(), LiveClient(), LiveClient()
    try:
        await first.connect(live)
        status, refused = post_json(f"{live}/live/offer", await second.offer())
        assert status == 429 and refused["code"] == "live_full"
        assert "already in 1 live conversation" in refused["message"] and "try again" in refused["advice"]
        with urllib.request.urlopen(f"{live}/live", timeout=10) as reply:
            assert json.loads(reply.read()) == {"sessions": 1, "limit": 1, "brain": "chat", "ice_servers": [stun.url]}
        assert close(live, first.session) == 200
        await third.connect(live)
        status, unknown = post_json(f"{live}/live/{first.session}/say", {"text": "hello"})
        assert status == 404 and unknown["code"] == "unknown_session"
        status, empty = post_json(f"{live}/live/{third.session}/say", {"text": "  "})
        assert status == 400 and empty["code"] == "empty_text"
        status, accepted = post_json(f"{live}/live/{third.session}/say", {"text": "Hello there."})
        assert status == 202 and accepted["answer"] == 1
        await third.event("speaking", 1, timeout_s=FIRST_FRAME_BOUND_S + 5)
        close(live, third.session)
        metrics = urllib.request.urlopen(f"{live}/metrics", timeout=10).read().decode()
        assert "twinforge_inference_live_refused_total 1.0" in metrics
    finally:
        for client in (first, second, third):
            await client.close()


async def test_the_brain_echoes_by_default_and_says_in_words_when_the_chat_endpoint_fails():
    assert await Brain().reply("Say this back.") == "Say this back."
    assert chat_endpoint("http://h:8000") == chat_endpoint("http://h:8000/v1/") == chat_endpoint("http://h:8000/v1/chat/completions") \
        == "http://h:8000/v1/chat/completions"
    with ChatStandIn("", status=503) as failing:
        with pytest.raises(StageFailed) as caught:
            await Brain(failing.url, "m").reply("hello")
    assert caught.value.code == "brain_refused" and "HTTP 503" in caught.value.message and "TWINFORGE_BRAIN_URL" in caught.value.advice
    with pytest.raises(StageFailed) as caught:
        await Brain(failing.url, "m", timeout_s=2).reply("hello")  # the stand-in has stopped: nothing listens
    assert caught.value.code == "brain_unreachable"
    started = time.perf_counter()
    with ChatStandIn("Fine.") as chat:
        brain = Brain(chat.url, "m", prompt="Be brief.")
        assert await brain.reply("One?") == "Fine." and await brain.reply("Two?") == "Fine."
    assert [m["content"] for m in chat.requests[-1][1]["messages"]] == ["Be brief.", "One?", "Fine.", "Two?"]
    assert time.perf_counter() - started < 5
