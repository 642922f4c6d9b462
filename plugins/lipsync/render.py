"""The answer video: the driving clip looped to the audio's length, each frame's lower face drawn
by the model and pasted straight into the full frame at its own resolution, the cut-out over a
background if one is wanted, the audio laid under it. The floor (no model) is the driving clip
exactly as recorded.

Streamed: one output frame is composed, encoded and dropped at a time (the driving clip's own
pictures are held only when they fit a memory budget, see plugins/lipsync/driving.py), the sound is
encoded alongside so the file is interleaved as it is written, and the lower faces come from an
iterator, so that a model can draw them as the frames go. The file's frames are made as the encoder
takes them, I420, from the clip converted once, touching only the mouth (plugins/lipsync/planar.py).
H.264 (yuv420p, CRF 18; x264's settings by what the render is for, ENCODERS) and AAC in MP4 with the
index at the front: what phones, browsers and Telegram play as they download. `compose` gives the same frames,
each with the sound under it, to a caller that shows them instead of writing a file (the inference
service's streaming render); render_video encodes what it gives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import av
import cv2
import numpy as np

from plugins.lipsync.composite import background_picture, cut_out, paste
from plugins.lipsync.graph import LipSyncGraph
from plugins.lipsync.driving import MEMORY_BYTES, DrivingClip, check_clip, chosen_clip, driving_frames, frame_order, output_frame_count
from plugins.lipsync.planar import paste_planar, planar_pictures
from plugins.media.audio import SAMPLE_RATE, NoSound, read_audio
from plugins.sdk.errors import StageFailed
from plugins.sdk.training_set import open_training_set
from plugins.sdk.video import video_info

Progress = Callable[[float, str, float | None], None]

CRF = "18"
# x264's settings by what a render is for. "quality": the evaluation's renders and previews, whose
# measures were set on it. "speed": the inference service's answers; at 1080x1920 on 2 cores under
# load, veryfast encoded 12-31 frames a second and ultrafast 67-75 at 3.6x the bytes; ultrafast with
# CABAC, the deblocking filter and two B-frames back kept 65-72 at 2.4x (37 MB a minute against
# veryfast's 15), at the same CRF (measured here, 2026-12-08).
ENCODERS = {
    "quality": {"crf": CRF, "preset": "veryfast"},
    "speed": {"crf": CRF, "preset": "ultrafast", "x264-params": "cabac=1:deblock=1:bframes=2"},
}
AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
AAC_FALLBACK_RATE = 48000
AAC_BITRATE = 128_000
PROGRESS_EVERY_S = 1.0
FIRST_BATCH = 1  # lower faces the model draws before the first frame can be shown; then twice as many a batch, up to the graph's own


@dataclass(frozen=True)
class LowerFaces:
    """What a model draws for an answer, and where it goes."""

    # (16 kHz sound, the source frame number under each output frame) -> one uint8[R, R, 3] per output frame
    draw: Callable[[np.ndarray, list[int]], Iterable[np.ndarray]]
    box: tuple[float, float, float, float]  # the lower-face square in the crop box, as fractions x0, y0, x1, y1
    top: float  # where the drawn part starts, as a share of the square's side; above it the recording stays


class ComposedFrame(NamedTuple):
    index: int
    picture: np.ndarray  # uint8[height, width, 3] RGB, even sides; a view, copy it to keep it
    sound: np.ndarray  # float32 samples at the answer's rate: the sound from the previous frame's end to this one's


@dataclass(frozen=True)
class Answer:
    """An answer being made: what it will be, and its frames, each composed only when asked for."""

    frames: Iterator[ComposedFrame]
    count: int
    fps: float
    width: int
    height: int
    rate: int  # of the sound
    audio_seconds: float
    clip: DrivingClip
    floor: bool
    cutout: bool


def compose(
    video: Path,
    training_set: Path,
    materials: dict,
    audio: Path,
    lower_faces: LowerFaces | None,
    cutout: Path | None = None,
    background: object = None,
    memory_bytes: int = MEMORY_BYTES,
    planar: bool = False,
) -> Answer:
    """The answer as frames with their sound instead of a file (for `render_video`, and for a
    player that shows frames as they come). Arguments as `render_video`'s. The audio is read and
    checked here; the model and the pictures work only as the frames are taken. `planar`: each
    picture as the encoder's I420 (uint8[height * 3 / 2, width]), the clip held as I420 and only the
    mouth touched (plugins/lipsync/planar.py); else RGB."""
    sound16k, sound, rate = read_sound(audio)
    dataset = open_training_set(training_set)
    info = video_info(video)
    fps = float(dataset.manifest.get("fps") or info.fps)
    clip = chosen_clip(materials)
    count = output_frame_count(len(sound16k) / SAMPLE_RATE, fps)
    order = frame_order(clip, count)
    alpha, behind = load_cutout(cutout, clip.start, clip.stop, background, info.width, info.height)
    crop_size = int(dataset.manifest.get("crop_size") or dataset["faces"].shape[1])
    width, height = info.width - info.width % 2, info.height - info.height % 2  # yuv420p needs even sides

    boxes, rows = dataset["boxes"], dataset["landmarks"]

    def placed(number: int) -> tuple[tuple[float, float, float], np.ndarray]:
        """Where the drawn lower face of source frame `number` goes, and its landmarks, in frame pixels."""
        box = boxes[number].astype(np.int64)
        side = float(box[2] - box[0])
        fx0, fy0, fx1, _ = lower_faces.box
        return (box[0] + fx0 * side, box[1] + fy0 * side, (fx1 - fx0) * side), np.asarray(rows[number]) * (side / crop_size) + box[:2]

    def pictures(drawn: Iterator[np.ndarray] | None) -> Iterator[np.ndarray]:
        for i, driving in enumerate(driving_frames(video, info, dataset, clip, order, memory_bytes)):
            picture = driving.picture
            if drawn is not None:
                square, landmarks = placed(driving.number)
                picture = paste(picture, next_lower_face(drawn, i, count), square, landmarks, lower_faces.top)
            if alpha is not None:
                picture = cut_out(picture, alpha[driving.number - clip.start], behind)
            yield picture[:height, :width]

    def planar_pictures_of(drawn: Iterator[np.ndarray] | None) -> Iterator[np.ndarray]:
        check_clip(info, dataset, clip)
        for i, (raw, shown) in enumerate(planar_pictures(video, info, clip, order, alpha, behind, memory_bytes)):
            if drawn is None:
                yield shown
                continue
            number = int(order[i])
            square, landmarks = placed(number)
            cut = None if alpha is None else alpha[number - clip.start]
            yield paste_planar(raw, shown, next_lower_face(drawn, i, count), square, landmarks, lower_faces.top, width, height, cut, behind)

    def frames() -> Iterator[ComposedFrame]:
        drawn = None if lower_faces is None else iter(lower_faces.draw(sound16k, [int(n) for n in order]))
        sent = 0
        for i, picture in enumerate((planar_pictures_of if planar else pictures)(drawn)):
            until = len(sound) if i == count - 1 else min(len(sound), int(round((i + 1) * rate / fps)))
            yield ComposedFrame(i, picture, sound[sent:max(sent, until)])
            sent = max(sent, until)

    return Answer(frames(), count, fps, width, height, rate, len(sound) / rate, clip, lower_faces is None, alpha is not None)


def render_video(
    video: Path,
    training_set: Path,
    materials: dict,
    audio: Path,
    lower_faces: LowerFaces | None,
    out: Path,
    cutout: Path | None = None,
    background: object = None,
    progress: Progress | None = None,
    memory_bytes: int = MEMORY_BYTES,
    encoder: str = "quality",
) -> dict:
    """Writes `out` and returns its summary. `lower_faces` draws one lower face per output frame
    for the source frame numbers given (LowerFaces); None renders the floor, the driving clip as
    recorded. `background`: an RGB colour or an RGB picture behind the cut-out (default: the
    cut-out's own colour, or the recorded background when it has none). `encoder`: a name of
    ENCODERS. The frames go to the encoder as I420, the clip held and only the mouth touched
    (compose's `planar`)."""
    started = time.perf_counter()
    report = progress or (lambda fraction, message, eta=None: None)
    report(0.0, "reading the audio", None)
    if encoder not in ENCODERS:
        raise StageFailed("bad_encoder", f"there is no encoder setting {encoder!r}", f"choose one of {', '.join(ENCODERS)} (TWINFORGE_RENDER_ENCODER)")
    answer = compose(video, training_set, materials, audio, lower_faces, cutout, background, memory_bytes, planar=True)
    if lower_faces is not None:
        report(0.0, "making the mouth move to the audio", None)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    try:
        with av.open(str(partial), "w", format="mp4", options={"movflags": "+faststart"}) as container:
            picture_stream = container.add_stream("libx264", rate=Fraction(answer.fps).limit_denominator(1001), options=dict(ENCODERS[encoder]))
            picture_stream.width, picture_stream.height, picture_stream.pix_fmt = answer.width, answer.height, "yuv420p"
            sound_stream = container.add_stream("aac", rate=answer.rate, layout="mono")
            sound_stream.bit_rate = AAC_BITRATE
            sent, last_report = 0, time.perf_counter()
            for i, picture, sound in answer.frames:
                frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
                frame.pts = i
                container.mux(picture_stream.encode(frame))
                sent = encode_sound(container, sound_stream, sound, sent)
                now = time.perf_counter()
                if now - last_report >= PROGRESS_EVERY_S:
                    last_report = now
                    done = (i + 1) / answer.count
                    eta = (now - started) * (1 - done) / done
                    report(done, f"rendering frame {i + 1} of {answer.count}", eta)
            container.mux(picture_stream.encode(None))
            container.mux(sound_stream.encode(None))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(out)
    elapsed = time.perf_counter() - started
    report(1.0, "the video is ready", 0.0)
    return {
        "path": str(out),
        "frames": answer.count,
        "fps": answer.fps,
        "seconds": answer.count / answer.fps,
        "audio_seconds": answer.audio_seconds,
        "width": answer.width,
        "height": answer.height,
        "driving_clip": answer.clip.id,
        "loop": answer.clip.loop,
        "floor": answer.floor,
        "cutout": answer.cutout,
        "render_seconds": elapsed,
        "frames_per_second": answer.count / elapsed if elapsed > 0 else 0.0,
    }


def model_lower_faces(graph: LipSyncGraph, training_set: Path, fps: float, lead: bool = False) -> LowerFaces:
    """The inference graph (plugins.lipsync.graph) as LowerFaces: they come batch by batch as the
    frames are composed, so the first frames are out before the last are made. The graph gets each
    driving frame's crop once with the output order of them, so its own looping is replaced and
    the clip plays in the materials' loop mode; only one batch of drawn lower faces is held,
    whatever the answer's length. `lead`: the graph's early start for long audio (the same
    pictures, the first sooner, a little more work in all): for a player, not for a file."""
    dataset = open_training_set(training_set)

    def draw(sound16k: np.ndarray, numbers: list[int]) -> Iterator[np.ndarray]:
        rows, order = np.unique(np.asarray(numbers, dtype=np.int64), return_inverse=True)
        for batch in graph.render_batches(sound16k, dataset["faces"][rows], dataset["landmarks"][rows], fps, FIRST_BATCH, order, lead):
            yield from batch

    return LowerFaces(draw, tuple(float(v) for v in graph.geometry.box), graph.top)


def read_sound(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """The audio at 16 kHz (what the models hear) and at the rate it is encoded at in the answer
    (its own rate when AAC takes it, so that a 44.1 kHz voice is not cut down to 16 kHz)."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            streams = container.streams.audio
            own_rate = int(streams[0].rate or 0) if streams else 0
        sound16k = read_audio(path)
        rate = own_rate if own_rate in AAC_RATES else AAC_FALLBACK_RATE
        sound = sound16k if rate == SAMPLE_RATE else read_audio(path, rate)
    except (NoSound, av.error.FFmpegError) as exc:
        raise StageFailed("audio_unreadable", f"the audio to speak cannot be read: {exc}", "send a wav, mp3, ogg or m4a file with sound in it") from exc
    if len(sound16k) == 0:
        raise StageFailed("audio_empty", f"{Path(path).name} holds no sound", "send a recording with speech in it")
    return sound16k, sound, rate


def load_cutout(cutout: Path | None, start: int, stop: int, background: object, width: int, height: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The cut-out's alpha of the driving clip's frames (uint8[F, H, W], held whole: one byte a
    pixel, a third of the clip's pictures) and what goes behind it; (None, None) when nothing is
    to be cut out."""
    if cutout is None:
        return None, None
    with np.load(cutout, allow_pickle=False) as stored:
        own = stored["background"] if "background" in stored.files else None
        behind = background if background is not None else own
        if behind is None:
            return None, None
        first, last = int(stored["start"]), int(stored["stop"])
        if first > start or last < stop:
            raise StageFailed(
                "cutout_mismatch",
                f"the cut-out covers frames {first}..{last}, the driving clip {start}..{stop}",
                "run the cutout stage again after choosing the driving clip",
            )
        alpha = stored["alpha"][start - first : stop - first]
    if alpha.shape[1:] != (height, width):  # the cut-out stage keeps the video's size; the paste of a mouth cuts it out region by region
        alpha = np.stack([cv2.resize(a, (width, height), interpolation=cv2.INTER_LINEAR) for a in alpha])
    return alpha, background_picture(behind, width, height)


def next_lower_face(drawn: Iterator[np.ndarray], index: int, count: int) -> np.ndarray:
    picture = next(drawn, None)
    if picture is None:
        raise StageFailed("too_few_crops", f"the model drew {index} lower faces for {count} frames", "report this as a bug in the lip-sync model")
    picture = np.asarray(picture)
    if picture.dtype != np.uint8 or picture.ndim != 3 or picture.shape[0] != picture.shape[1] or picture.shape[2] != 3:
        raise StageFailed("bad_crop", f"the model drew a lower face of {picture.dtype}{list(picture.shape)}, not uint8[R, R, 3]",
                          "report this as a bug in the lip-sync model")
    return picture


def encode_sound(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream, sound: np.ndarray, sent: int) -> int:
    """Encodes `sound`, the samples that follow the first `sent`; returns how many are sent then."""
    if len(sound) == 0:
        return sent
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(sound[None], np.float32), format="flt", layout="mono")
    frame.sample_rate = stream.rate
    frame.pts = sent
    frame.time_base = Fraction(1, stream.rate)
    container.mux(stream.encode(frame))
    return sent + len(sound)
