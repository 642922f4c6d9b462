"""Live conversation with the avatar over WebRTC (aiortc): a peer connection per person, carrying a
video track and an audio track cut from one timeline, and a data channel for what the person types.

One clock, two tracks. The timeline is a row of ticks, one per video frame (the avatar's own rate,
25 fps): each tick is a picture and the sound under it (48 kHz). The video track asks for tick i at
start + i/fps, the audio track for 20 ms of sound at its own times, and whichever asks first fixes
what tick i holds; so picture and sound cannot drift apart, whatever either sender does. A video
sender that falls more than MOST_BEHIND ticks behind the clock (a slow encoder) skips ticks rather
than let the delay grow or the picture fall behind its sound.

Between answers a tick is the driving clip as recorded (breathing, blinking, the mouth at rest),
played from pictures decoded once and held (plugins/lipsync/driving.py's loop). An answer is spoken
by the avatar's own graph: the words (the brain's reply, plugins/inference/brain.py) to speech, the
graph's early-start lower faces (model_lower_faces with lead=True) pasted into the held pictures,
made in a thread of its own a little ahead of the clock. Its first frame takes the first tick at
which it is ready, so the idle picture plays on until then; the answer continues the clip's loop
where the idle would be by then (an estimate from the last answers' delay), so the head does not
jump. A frame not ready in time holds the picture and the sound for one tick (the answer slips a
frame, picture and sound together). A new question stops the answer being spoken.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import secrets
import statistics
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from aiortc import RTCConfiguration, RTCDataChannel, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from plugins.inference.avatar import Avatar
from plugins.inference.brain import Brain
from plugins.inference.speech import Speech, speech_file
from plugins.lipsync.composite import cut_out, paste
from plugins.lipsync.driving import DrivingClip, chosen_clip, exact_frames, frame_order, output_frame_count
from plugins.lipsync.render import load_cutout, next_lower_face
from plugins.media.audio import SAMPLE_RATE, read_audio
from plugins.sdk.errors import Cancelled, StageFailed
from plugins.sdk.video import video_info
from plugins.tts.speech import MAX_CHARACTERS

log = logging.getLogger(__name__)

RATE = 48_000  # what WebRTC's Opus runs at: no resampling on either side
AUDIO_SAMPLES = 960  # 20 ms, Opus's usual frame
VIDEO_CLOCK = 90_000
AHEAD_FRAMES = 25  # an answer is made at most a second ahead of its time: memory stays small, an interruption wastes little
MOST_BEHIND = 1  # ticks a video sender may lag the clock before it skips: 3 let picture and sound drift 75 ms apart under load (bench.live)
FIRST_LATENCY_TICKS = 20  # the delay from a question to its first frame guessed before any answer was measured
CHANNEL = "talk"


@dataclass(frozen=True)
class Look:
    """The driving clip as the live avatar shows it, held in memory once for every session."""

    clip: DrivingClip
    loop: np.ndarray  # the source frame of each position in one period of the loop
    raw: list[np.ndarray]  # the clip's pictures as recorded, even sides: the answers paste into these
    idle: list[np.ndarray]  # the same with the cut-out laid over its background: shown between answers
    alpha: np.ndarray | None
    behind: np.ndarray | None
    fps: float
    width: int
    height: int

    def idle_picture(self, position: int) -> np.ndarray:
        return self.idle[int(self.loop[position % len(self.loop)]) - self.clip.start]


def look_of(avatar: Avatar) -> Look:
    """Decodes the chosen driving clip once (plugins/lipsync/driving.py picks and loops it as the
    renders do)."""
    clip = chosen_clip(avatar.materials)
    info = video_info(avatar.video)
    width, height = avatar.width, avatar.height
    raw = [np.ascontiguousarray(picture[:height, :width]) for picture in exact_frames(avatar.video, clip.start, clip.stop)]
    alpha, behind = load_cutout(avatar.cutout, clip.start, clip.stop, None, info.width, info.height)
    if behind is not None and behind.ndim == 3:
        behind = behind[:height, :width]
    idle = raw if alpha is None else [cut_out(picture, alpha[i][:height, :width], behind) for i, picture in enumerate(raw)]
    period = clip.length if clip.loop == "forward" or clip.length < 3 else 2 * (clip.length - 1)
    return Look(clip, frame_order(clip, period), raw, idle, alpha, behind, avatar.fps, width, height)


def answer_frames(avatar: Avatar, look: Look, audio: Path, phase: int, model: bool = True) -> tuple[int, Iterator[tuple[np.ndarray, np.ndarray]]]:
    """(frames, each frame's picture and its sound at RATE): the answer to `audio`, its driving
    frames continuing the loop from `phase`. The paste is plugins/lipsync/render.compose's, on the
    held pictures instead of frames decoded again for every answer. Without `model`, the floor: the
    driving clip as recorded under the sound (bench.live measures the model against it)."""
    sound16k = read_audio(audio)
    sound = read_audio(audio, RATE)
    count = output_frame_count(len(sound16k) / SAMPLE_RATE, look.fps)
    numbers = [int(look.loop[(phase + j) % len(look.loop)]) for j in range(count)]
    lower = avatar.early_lower_faces
    dataset = avatar.dataset
    boxes, landmarks = dataset["boxes"], dataset["landmarks"]
    crop_size = int(dataset.manifest.get("crop_size") or dataset["faces"].shape[1])

    def frames() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        drawn = iter(lower.draw(sound16k, numbers) if model else ())
        for j, number in enumerate(numbers):
            row = number - look.clip.start
            picture = look.idle[row]
            if model:
                box = boxes[number].astype(np.int64)
                side = float(box[2] - box[0])
                fx0, fy0, fx1, _ = lower.box
                square = (box[0] + fx0 * side, box[1] + fy0 * side, (fx1 - fx0) * side)
                points = np.asarray(landmarks[number]) * (side / crop_size) + box[:2]
                picture = paste(look.raw[row], next_lower_face(drawn, j, count), square, points, lower.top)
                if look.alpha is not None:
                    picture = cut_out(picture, look.alpha[row][: look.height, : look.width], look.behind)
            yield picture, sound[edge(j, look.fps) : edge(j + 1, look.fps)]

    return count, frames()


def edge(tick: int, fps: float) -> int:
    """The first sample of a tick's sound."""
    return int(round(tick * RATE / fps))


@dataclass
class Tick:
    picture: np.ndarray
    sound: np.ndarray  # float32, exactly the tick's samples
    answer: int  # 0 between answers


class Answering:
    """One answer being made in its own thread, a little ahead of the clock."""

    def __init__(self, number: int, phase: int, asked: float) -> None:
        self.number, self.phase, self.asked = number, phase, asked
        self.frames: queue.Queue[tuple[np.ndarray, np.ndarray]] = queue.Queue(AHEAD_FRAMES)
        self.stop = threading.Event()
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.count = 0
        self.started: int | None = None  # the tick of its first frame
        self.taken = 0
        self.late = 0
        self.last: np.ndarray | None = None

    def make(self, avatar: Avatar, look: Look, speech: Speech, scratch: Path | None, model: bool = True) -> None:
        """The thread's body: the speech, then its frames into the queue until done or stopped."""
        try:
            with avatar.metrics.tracked("live"), tempfile.TemporaryDirectory(prefix="live-", dir=scratch) as tmp:
                audio = speech_file(speech, Path(tmp), avatar.tts_engine, avatar.max_seconds)
                if self.stop.is_set():
                    raise Cancelled()
                self.count, frames = answer_frames(avatar, look, audio, self.phase, model)
                for item in frames:
                    while True:
                        if self.stop.is_set():
                            frames.close()
                            raise Cancelled()
                        try:
                            self.frames.put(item, timeout=0.05)
                            break
                        except queue.Full:
                            continue
                avatar.metrics.frames.labels("live").inc(self.count)
                avatar.metrics.audio_seconds.labels("live").inc(self.count / look.fps)
        except Cancelled:
            pass
        except BaseException as exc:
            self.error = exc
        finally:
            self.finished.set()

    def next_frame(self) -> tuple[np.ndarray, np.ndarray] | None | bool:
        """A frame; None when the next one is not made yet; False when there are no more."""
        try:
            return self.frames.get_nowait()
        except queue.Empty:
            if not self.finished.is_set():
                return None
        try:  # the last frame may have gone in just before the thread finished
            return self.frames.get_nowait()
        except queue.Empty:
            return False


class Timeline:
    """The ticks of one session, each fixed once (see the module's docstring)."""

    def __init__(self, look: Look, emit: Callable[[dict], None], on_late: Callable[[], None]) -> None:
        self.look, self.emit, self.on_late = look, emit, on_late
        self.start: float | None = None
        self.cursor = 0  # the loop position the next idle tick shows
        self.ticks: dict[int, Tick] = {}
        self.answer: Answering | None = None
        self.reached = {"video": 0, "audio": 0}
        self.sent = {"video": {}, "audio": {}}  # tick -> when its picture / its first sound left, for the A/V offset
        self.offsets = {"max": 0.0, "sum": 0.0, "ticks": 0}  # over every answer tick, kept as running figures: a session may last hours
        self.skipped = 0
        self.latencies: list[float] = []
        self.silence = np.zeros(edge(1, look.fps), np.float32)

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def until(self, seconds: float) -> None:
        """Waits for the clock to reach `seconds` after the session's first tick."""
        if self.start is None:
            self.start = self.now()
        delay = self.start + seconds - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    def current(self) -> int:
        return 0 if self.start is None else int((self.now() - self.start) * self.look.fps)

    def expected_delay(self) -> int:
        """Ticks from a question to its first frame, as the last answers took."""
        return int(statistics.median(self.latencies[-5:]) * self.look.fps) if self.latencies else FIRST_LATENCY_TICKS

    def tick(self, index: int) -> Tick:
        found = self.ticks.get(index)
        if found is None:
            found = self.ticks[index] = self.decide(index)
            # Kept until both tracks are past it; a track that never asks (a browser that turned
            # one off) holds at most two seconds of them.
            oldest = max(min(self.reached.values()) - 1, index - 2 * AHEAD_FRAMES)
            for old in [i for i in self.ticks if i < oldest]:
                del self.ticks[old]
        return found

    def idle(self) -> Tick:
        self.cursor += 1
        return Tick(self.look.idle_picture(self.cursor - 1), self.silence, 0)

    def decide(self, index: int) -> Tick:
        answer = self.answer
        if answer is None:
            return self.idle()
        made = answer.next_frame()
        if made is False:
            self.answer = None
            if answer.error is not None:
                self.emit(problem(answer.error, answer.number))
            else:
                self.emit({"type": "done", "answer": answer.number, "frames": answer.taken, "late_frames": answer.late})
            return self.idle()
        if made is None:
            if answer.started is None:
                return self.idle()
            answer.late += 1
            self.on_late()
            return Tick(answer.last, self.silence, answer.number)
        picture, sound = made
        if answer.started is None:
            answer.started = index
            latency = self.start + index / self.look.fps - answer.asked  # when the tick is due: its frame leaves then
            self.latencies.append(latency)
            self.emit({"type": "speaking", "answer": answer.number, "tick": index, "frames": answer.count, "latency_s": round(latency, 3),
                       "jump": answer.phase - self.cursor})
        answer.taken += 1
        answer.last = picture
        self.cursor = answer.phase + answer.taken
        whole = self.silence.copy()
        whole[: min(len(sound), len(whole))] = sound[: len(whole)]
        return Tick(picture, whole, answer.number)

    def samples(self, first: int, count: int) -> np.ndarray:
        """The sound from sample `first` on, taken from the ticks it falls in."""
        fps = self.look.fps
        out = np.empty(count, np.float32)
        done = 0
        while done < count:
            at = first + done
            index = int(at * fps // RATE)
            while edge(index + 1, fps) <= at:
                index += 1
            while edge(index, fps) > at:
                index -= 1
            sound = self.tick(index).sound
            begin = at - edge(index, fps)
            part = sound[begin : begin + count - done]
            out[done : done + len(part)] = part
            done += len(part)
        return out

    def record(self, kind: str, index: int) -> None:
        """When a tick's picture or its first sound left; the gap between the two, over an answer's
        ticks, is the A/V offset as sent."""
        now = self.now()
        other = self.sent["audio" if kind == "video" else "video"].pop(index, None)
        if other is None:
            self.sent[kind][index] = now
        elif (tick := self.ticks.get(index)) is not None and tick.answer:
            gap = abs(now - other)
            self.offsets["max"] = max(self.offsets["max"], gap)
            self.offsets["sum"] += gap
            self.offsets["ticks"] += 1
        for store in self.sent.values():
            for old in [i for i in store if i < index - 2 * AHEAD_FRAMES]:
                del store[old]

    def stats(self) -> dict:
        return {
            "ticks": min(self.reached.values()), "skipped_frames": self.skipped,
            "latencies_s": [round(x, 3) for x in self.latencies],
            "av_offset_ms": {"max": round(1000 * self.offsets["max"], 1), "mean": round(1000 * self.offsets["sum"] / max(1, self.offsets["ticks"]), 1),
                             "ticks": self.offsets["ticks"]},
        }


def problem(error: BaseException, answer: int) -> dict:
    if not isinstance(error, StageFailed):
        log.error("a live answer failed", exc_info=error)
        error = StageFailed("render_failed", f"the answer could not be made: {type(error).__name__}: {error}", "ask again; if it fails again, report it")
    return {"type": "error", "answer": answer, "code": error.code, "message": error.message, "advice": error.advice}


class PictureTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline, self.next = timeline, 0

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        timeline = self.timeline
        index = self.next
        await timeline.until(index / timeline.look.fps)
        behind = timeline.current() - index
        if behind > MOST_BEHIND:
            timeline.skipped += behind
            for skipped in range(index, index + behind):
                timeline.tick(skipped)  # their sound still plays; the answer's frames keep their place
            index += behind
        self.next = index + 1
        timeline.reached["video"] = index
        tick = timeline.tick(index)
        frame = av.VideoFrame.from_ndarray(tick.picture, format="rgb24")
        frame.pts, frame.time_base = int(round(index * VIDEO_CLOCK / timeline.look.fps)), Fraction(1, VIDEO_CLOCK)
        timeline.record("video", index)
        return frame


class SoundTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline, self.next = timeline, 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        timeline = self.timeline
        first = self.next * AUDIO_SAMPLES
        self.next += 1
        await timeline.until(first / RATE)
        samples = timeline.samples(first, AUDIO_SAMPLES)
        index = int(first * timeline.look.fps // RATE)
        timeline.reached["audio"] = index
        if edge(index, timeline.look.fps) >= first and edge(index, timeline.look.fps) < first + AUDIO_SAMPLES:
            timeline.record("audio", index)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)[None]
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, first, Fraction(1, RATE)
        return frame


class Session:
    """One person's conversation: the peer connection, its timeline, its brain and its data channel."""

    def __init__(self, look: Look, brain: Brain, on_late: Callable[[], None], ice_servers: list[RTCIceServer]) -> None:
        self.id = secrets.token_urlsafe(16)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers))  # [] rather than aiortc's default, which is Google's STUN
        self.brain = brain
        self.channel: RTCDataChannel | None = None
        self.answers = 0
        self.thinking: asyncio.Task | None = None
        self.timeline = Timeline(look, self.emit, on_late)

    def emit(self, event: dict) -> None:
        """An event to the page (the data channel), dropped while the channel is not open."""
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(event))


class LiveSessions:
    """Every live conversation of one service, at most `limit` at once. Its coroutines run on the
    service's event loop; the HTTP front door hands them over with `call`. `model` False answers
    with the floor (bench.live's baseline). `ice_servers`: the STUN and TURN servers each peer
    gathers candidates through (Settings.ice_servers(); aiortc uses the first STUN and the first
    TURN URL of them), none by default: host candidates reach a browser on the same machine or
    network."""

    def __init__(self, avatar: Avatar, limit: int, brain: Brain, loop: asyncio.AbstractEventLoop, scratch: Path | None = None,
                 model: bool = True, ice_servers: list[dict] | None = None) -> None:
        self.avatar, self.limit, self.brain, self.loop, self.scratch, self.model = avatar, limit, brain, loop, scratch, model
        self.ice_servers = list(ice_servers or [])
        self.sessions: dict[str, Session] = {}
        self._look: Look | None = None
        self._looking = asyncio.Lock()  # two first offers at once decode the clip once
        self._opening = 0

    def call(self, coroutine, timeout_s: float = 60.0):
        """Runs `coroutine` on the service's loop from another thread and returns what it returns."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout_s)

    async def look(self) -> Look:
        """The driving clip, decoded at the first offer rather than at start-up: a service nobody talks
        to live holds none of it."""
        async with self._looking:
            if self._look is None:
                self._look = await asyncio.to_thread(look_of, self.avatar)
        return self._look

    def describe(self) -> dict:
        """What GET /live says; of the ICE servers only their URLs, never a TURN login."""
        return {"sessions": len(self.sessions), "limit": self.limit, "brain": "echo" if self.brain.echoes else "chat",
                "ice_servers": [url for server in self.ice_servers for url in server["urls"]]}

    async def open(self, offer: dict) -> dict:
        """Answers a browser's SDP offer: {"sdp", "type", "session"}; refuses past the limit."""
        if self.limit <= 0:
            raise StageFailed("live_off", "live conversation is turned off on this service", "set TWINFORGE_LIVE_SESSIONS above 0 and restart it")
        if len(self.sessions) + self._opening >= self.limit:
            self.avatar.metrics.live_refused.inc()
            raise StageFailed(
                "live_full", f"this avatar is already in {self.limit} live conversation{'s' if self.limit != 1 else ''}, as many as it holds at once",
                "try again in a few minutes, when one has ended",
            )
        sdp, kind = offer.get("sdp"), offer.get("type")
        if not isinstance(sdp, str) or kind != "offer" or "m=video" not in sdp or "m=audio" not in sdp:
            raise StageFailed("bad_offer", "the body is not a WebRTC offer that receives video and audio",
                              'send {"sdp": ..., "type": "offer"} from a peer connection with a video and an audio transceiver (recvonly) and a data channel')
        self._opening += 1
        try:
            look = await self.look()
            ice = [RTCIceServer(urls=server["urls"], username=server.get("username"), credential=server.get("credential")) for server in self.ice_servers]
            session = Session(look, self.new_brain(), self.avatar.metrics.live_late_frames.inc, ice)
            self.watch(session)
            try:
                await session.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                session.pc.addTrack(PictureTrack(session.timeline))
                session.pc.addTrack(SoundTrack(session.timeline))
                await session.pc.setLocalDescription(await session.pc.createAnswer())
            except (ValueError, AttributeError, KeyError) as exc:
                await session.pc.close()
                raise StageFailed("bad_offer", f"the offer cannot be answered: {exc}", "send the offer of a browser's RTCPeerConnection as it made it") from None
            self.sessions[session.id] = session
            self.avatar.metrics.live_sessions.set(len(self.sessions))
        finally:
            self._opening -= 1
        log.info("live session %s opened (%d of %d)", session.id, len(self.sessions), self.limit)
        return {"sdp": session.pc.localDescription.sdp, "type": session.pc.localDescription.type, "session": session.id,
                "width": look.width, "height": look.height, "fps": look.fps}

    def new_brain(self) -> Brain:
        base = self.brain
        return Brain(base.url, base.model, base.api_key, base.prompt, base.timeout_s)

    def watch(self, session: Session) -> None:
        pc = session.pc

        @pc.on("datachannel")
        def on_channel(channel) -> None:
            session.channel = channel

            @channel.on("message")
            def on_message(message: str | bytes) -> None:
                self.heard(session, message)

            session.emit({"type": "ready", "session": session.id, "brain": "echo" if self.brain.echoes else "chat"})

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close(session.id)

    def checked(self, text: str) -> str:
        if not text.strip():
            raise StageFailed("empty_text", "there is nothing to say: the text is empty", "type the words for the avatar to answer")
        if len(text) > MAX_CHARACTERS:
            raise StageFailed("text_too_long", f"the text has {len(text)} characters; a live question takes at most {MAX_CHARACTERS}",
                              "ask a shorter question")
        return text

    def heard(self, session: Session, message: str | bytes) -> None:
        """A data channel message: {"type": "say", "text": ...} or {"type": "stats"}."""
        try:
            fields = json.loads(message)
            kind = fields.get("type", "say")
        except (ValueError, AttributeError):
            session.emit({"type": "error", "code": "bad_message", "message": "the message is not JSON", "advice": 'send {"type": "say", "text": "..."}'})
            return
        if kind == "stats":
            session.emit({"type": "stats", **session.timeline.stats()})
        elif kind == "say" and isinstance(fields.get("text"), str):
            try:
                self.ask(session, text=self.checked(fields["text"]))
            except StageFailed as exc:
                session.emit(problem(exc, session.answers))
        else:
            session.emit({"type": "error", "code": "bad_message", "message": f"there is no message of type {kind!r} with text",
                          "advice": 'send {"type": "say", "text": "..."}'})

    def ask(self, session: Session, text: str | None = None, audio: bytes | None = None) -> int:
        """A new question: the answer being spoken stops, and this one's reply is made. Its number."""
        asked = self.loop.time()
        session.answers += 1
        number = session.answers
        self.interrupt(session)
        session.thinking = self.loop.create_task(self.answer(session, number, asked, text, audio))
        return number

    def interrupt(self, session: Session) -> None:
        if session.thinking is not None and not session.thinking.done():
            session.thinking.cancel()
        current = session.timeline.answer
        if current is not None:
            current.stop.set()
            session.timeline.answer = None
            session.emit({"type": "interrupted", "answer": current.number})

    async def answer(self, session: Session, number: int, asked: float, text: str | None, audio: bytes | None) -> None:
        session.emit({"type": "thinking", "answer": number})
        try:
            speech = Speech(audio=audio) if audio is not None else Speech(text=await session.brain.reply(text or ""))
        except StageFailed as exc:
            session.emit(problem(exc, number))
            return
        if speech.text is not None:
            session.emit({"type": "reply", "answer": number, "text": speech.text})
        timeline = session.timeline
        answering = Answering(number, timeline.cursor + timeline.expected_delay(), asked)
        timeline.answer = answering
        threading.Thread(target=answering.make, args=(self.avatar, timeline.look, speech, self.scratch, self.model), name=f"live-{number}",
                         daemon=True).start()

    async def say(self, session_id: str, text: str | None = None, audio: bytes | None = None) -> dict:
        """The HTTP way to ask (a recording, or text from a page without a data channel)."""
        session = self.session(session_id)
        return {"session": session.id, "answer": self.ask(session, None if text is None else self.checked(text), audio)}

    async def stats(self, session_id: str) -> dict:
        return {"session": session_id, **self.session(session_id).timeline.stats()}

    def session(self, session_id: str) -> Session:
        found = self.sessions.get(session_id)
        if found is None:
            raise StageFailed("unknown_session", "there is no live conversation with this id on this service (it ended, or never began)",
                              "open a new one: POST the offer to /live/offer")
        return found

    async def close(self, session_id: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return
        self.interrupt(session)
        await session.pc.close()
        self.avatar.metrics.live_sessions.set(len(self.sessions))
        log.info("live session %s closed", session_id)

    async def close_all(self) -> None:
        for session_id in list(self.sessions):
            await self.close(session_id)
