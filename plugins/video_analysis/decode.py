"""One streamed pass over the video: every packet is demuxed once and decoded once, and what the
measures need is kept as small numbers, never the frames or the sound themselves.

Three threads share the work (the models and most numpy work release the GIL):
- the demuxing thread decodes the video and keeps, per frame, its time, its mean brightness and how
  much it differs from the frame before (on a coarse grid of the luma plane, read in place without
  conversion, measured a run of frames at a time: LumaRuns); it hands every k-th frame to the face
  thread and the audio packets to the sound thread;
- the face thread converts each frame it gets to RGB at ANALYSIS_SIDE px, turns it upright, detects
  faces, and measures the largest face's sharpness and light on the full-resolution luma plane;
- the sound thread decodes the audio, counts clipped samples, mixes to mono at 16 kHz, and runs voice
  activity and the loudness windows a few seconds at a time.
The queues between them are bounded, so memory stays bounded: the demuxer waits when analysis lags.
"""

from __future__ import annotations

import queue
import threading
from typing import Any
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from plugins.video_analysis import measures as m
from plugins.video_analysis.detectors import VAD_RATE, FaceDetector, VoiceActivity, detectors
from plugins.video_analysis.thresholds import ANALYSIS_SIDE, FACE_SAMPLES_PER_S, MIN_FACE_SAMPLES, SHARPNESS_SIDE
from plugins.video_analysis.words import advice

SAFE_PLANES = 8  # planar frames with this many channels or more are repacked (samples_of)

# Pixel formats whose first plane is 8-bit luma, read in place.
LUMA_FORMATS = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p", "yuv411p", "yuv410p", "nv12", "nv21", "nv16", "gray"}
# Demuxers that read a still image, which PyAV opens as a one-frame "video".
STILL_IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif_pipe", "svg_pipe", "pgm_pipe", "ppm_pipe", "qdraw_pipe", "dpx_pipe", "exr_pipe", "j2k_pipe", "jpegls_pipe", "pcx_pipe", "pictor_pipe", "psd_pipe", "sgi_pipe", "sunrast_pipe", "xpm_pipe", "xwd_pipe"}
GRID_CELLS = 64  # the longer side of the coarse luma grid
LUMA_RUN_FRAMES = 25  # luma grids measured together, in one pass per run of this many frames
AUDIO_CHUNK_S = 4.0  # the sound is analysed in chunks this long
AUDIO_BATCH_PACKETS = 32  # audio packets go to the analysis thread in batches
FRAMES_QUEUED = 4  # decoded frames waiting for the face thread (a 4K frame is 12 MB)
PACKET_BATCHES_QUEUED = 16  # batches of audio packets waiting for the sound thread
PROGRESS_EVERY_FRAMES = 50


class Unreadable(Exception):
    """The file cannot be checked at all: empty, not a video, corrupt beyond reading. It carries
    why and what to do as a code of words.ADVICE and its values, for the report to say in any language."""

    def __init__(self, code: str, **values: Any) -> None:
        super().__init__(advice(code, values))
        self.code, self.values = code, values


@dataclass
class FaceSample:
    """What the detector saw on one examined frame; the box is of the largest face, in display px."""

    time: float
    count: int
    box: tuple[float, float, float, float] | None = None  # x, y, width, height
    sharpness: float | None = None
    face_luma: float | None = None
    background_luma: float | None = None


@dataclass
class Scan:
    path: Path
    size_bytes: int
    container: str = ""
    video_codec: str = ""
    audio_codec: str = ""
    stored_width: int = 0
    stored_height: int = 0
    rotation: int = 0
    declared_duration: float | None = None
    declared_video_duration: float | None = None
    declared_audio_duration: float | None = None
    average_rate: float | None = None
    has_audio: bool = False
    sample_rate: int = 0
    channels: int = 0
    # per decoded video frame
    times: list[float] = field(default_factory=list)
    brightness: list[float] = field(default_factory=list)
    frame_diffs: list[float] = field(default_factory=list)
    # per examined frame
    faces: list[FaceSample] = field(default_factory=list)
    face_every: int = 1
    # sound
    clipped_samples: int = 0
    raw_samples: int = 0
    audio_end: float | None = None
    audio_start: float | None = None
    window_rms: list[float] = field(default_factory=list)
    sum_squares: float = 0.0
    mono_samples: int = 0
    speech_probs: list[float] = field(default_factory=list)
    decode_errors: int = 0
    truncated_at: float | None = None

    @property
    def display_size(self) -> tuple[int, int]:
        if self.rotation % 180:
            return self.stored_height, self.stored_width
        return self.stored_width, self.stored_height


def luma_plane(frame: av.VideoFrame, reformatter: VideoReformatter) -> np.ndarray:
    """The frame's 8-bit luma as a 2-D array: a view of the decoded plane when the format allows."""
    if frame.format.name not in LUMA_FORMATS:
        frame = reformatter.reformat(frame, format="gray")
    plane = frame.planes[0]
    return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]


def luma_grid(frame: av.VideoFrame, reformatter: VideoReformatter) -> np.ndarray:
    """Every step-th luma pixel, so that the longer side has about GRID_CELLS cells (a view)."""
    luma = luma_plane(frame, reformatter)
    step = max(1, max(luma.shape) // GRID_CELLS)
    return luma[::step, ::step]


class LumaRuns:
    """The brightness of every decoded frame and its difference from the one before, measured
    LUMA_RUN_FRAMES at a time: a frame only copies its coarse luma grid into the run, and one
    vectorized pass measures the whole run. The demuxing thread sets the pace of the check, and
    there a numpy call per frame costs more than its arithmetic: each lets an analysis thread take
    the GIL, and the demuxer then waits to get it back."""

    def __init__(self, scan: Scan) -> None:
        self.scan = scan
        self.reformatter = VideoReformatter()
        self.run: np.ndarray | None = None
        self.count = 0
        self.last: np.ndarray | None = None  # the previous run's last grid

    def add(self, frame: av.VideoFrame) -> None:
        grid = luma_grid(frame, self.reformatter)
        if self.run is None or self.run.shape[1:] != grid.shape:  # the first frame, or a new size
            self.flush()
            self.run = np.empty((LUMA_RUN_FRAMES, *grid.shape), dtype=np.uint8)
        self.run[self.count] = grid
        self.count += 1
        if self.count == LUMA_RUN_FRAMES:
            self.flush()

    def flush(self) -> None:
        """Measures the frames added since the last flush."""
        if not self.count:
            return
        grids = self.run[: self.count]
        self.scan.brightness.extend(m.mean_lumas(grids))
        self.scan.frame_diffs.extend(m.frame_differences(self.last, grids))
        self.last = grids[-1].copy()
        self.count = 0


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turns a stored picture the way a player shows it (the display matrix rotates counter-clockwise)."""
    turns = (rotation // 90) % 4
    return np.rot90(image, turns) if turns else image


def quarter_turns(degrees: float) -> int:
    """A rotation in degrees as 0, 90, 180 or 270 (the nearest quarter turn)."""
    return int(round(degrees / 90.0)) * 90 % 360


def frame_rotation(frame: av.VideoFrame) -> int:
    """The counter-clockwise rotation of the frame's display matrix (side data copied from the stream)."""
    try:
        return quarter_turns(frame.rotation or 0)
    except (ValueError, TypeError):
        return 0


def stream_rotation(stream: av.video.stream.VideoStream) -> int:
    """The stream's legacy "rotate" tag, which older demuxers export instead of the display matrix
    (the FFmpeg in PyAV 18 turns it into the matrix; this is the fallback)."""
    try:
        return quarter_turns(float(stream.metadata.get("rotate", 0) or 0))
    except ValueError:
        return 0


def face_every(fps: float, expected_frames: int) -> int:
    """Examine about FACE_SAMPLES_PER_S frames a second, but at least MIN_FACE_SAMPLES in all."""
    by_rate = max(1, round(fps / FACE_SAMPLES_PER_S)) if fps > 0 else 1
    by_count = max(1, expected_frames // MIN_FACE_SAMPLES) if expected_frames > 0 else 1
    return min(by_rate, by_count)


def mono_float(raw: np.ndarray, planar: bool, channels: int) -> np.ndarray:
    """Decoded samples of any sample format as float32 mono in [-1, 1] (the channels averaged)."""
    if raw.dtype.kind == "f":
        samples = raw.astype(np.float32, copy=False)
    elif raw.dtype.kind == "u":
        centre = (np.iinfo(raw.dtype).max + 1) / 2
        samples = (raw.astype(np.float32) - centre) / centre
    else:
        samples = raw.astype(np.float32) / (np.iinfo(raw.dtype).max + 1)
    channels = max(1, channels)
    if channels == 1:
        return samples.reshape(-1)
    planes = samples.reshape(channels, -1) if planar else samples.reshape(-1, channels).T
    mono = planes[0].copy()
    for plane in planes[1:]:
        mono += plane
    mono *= 1 / channels
    return mono


def samples_of(frame: av.AudioFrame) -> np.ndarray:
    """The frame's samples as PyAV lays them out, without letting PyAV crash on them. PyAV finds a
    frame's planes by walking FFmpeg's data pointers up to the first empty one; a planar frame of 8
    channels has no empty one after its last (and one of more keeps its pointers elsewhere), so the
    walk runs off the end and the process dies reading a wild pointer (a 7.1 AAC track did, found by
    fuzzing the intake check). Such a frame is repacked to the packed form of its own sample format,
    values unchanged; a packed frame has one plane, which PyAV reads safely."""
    if not frame.format.is_planar or frame.layout.nb_channels < SAFE_PLANES:
        return frame.to_ndarray()
    repack = av.AudioResampler(format=frame.format.packed.name, layout=frame.layout.name, rate=frame.sample_rate)
    return np.concatenate([out.to_ndarray() for out in [*repack.resample(frame), *repack.resample(None)]], axis=1)


def clipped_count(raw: np.ndarray) -> int:
    """Samples at (or within CLIP_LEVEL of) full scale, in the decoded sample format."""
    if raw.size == 0:
        return 0
    if raw.dtype.kind == "f":
        low, high = -m.CLIP_LEVEL, m.CLIP_LEVEL
    elif raw.dtype.kind == "i":
        high = np.iinfo(raw.dtype).max * m.CLIP_LEVEL
        low = -high
    elif raw.dtype.kind == "u":
        centre = (np.iinfo(raw.dtype).max + 1) / 2
        low, high = centre - centre * m.CLIP_LEVEL, centre + centre * m.CLIP_LEVEL
    else:
        return 0
    if raw.min() > low and raw.max() < high:  # the usual case, without temporary arrays
        return 0
    return int(np.count_nonzero(raw <= low) + np.count_nonzero(raw >= high))


def group_means(x: np.ndarray, size: int) -> np.ndarray:
    """The mean of each group of `size` consecutive samples, as reshape(-1, size).mean(axis=1) gives
    it, summed column by column: numpy reduces a short last axis several times slower."""
    groups = x.reshape(-1, size)
    total = groups[:, 0].copy()
    for column in range(1, size):
        total += groups[:, column]
    total /= size
    return total


class ToVadRate:
    """Streams mono sound at any rate to 16 kHz, continuous across chunks: a whole-number ratio
    (48 or 32 kHz) averages each group of samples; any other ratio (44.1 or 22.05 kHz) interpolates
    linearly between the two nearest samples."""

    def __init__(self, rate: int) -> None:
        self.ratio = rate / VAD_RATE
        self.step = int(round(self.ratio)) if self.ratio >= 1 and abs(self.ratio - round(self.ratio)) < 1e-9 else 0
        self.rest = np.zeros(0, dtype=np.float32)
        self.position = 0.0  # where the next output sample falls, in input samples from rest's start

    def __call__(self, mono: np.ndarray) -> np.ndarray:
        x = np.concatenate([self.rest, mono.astype(np.float32, copy=False)]) if self.rest.size else mono.astype(np.float32, copy=False)
        if self.step == 1:
            return x
        if self.step:
            whole = x.size // self.step * self.step
            self.rest = x[whole:].copy()
            return group_means(x[:whole], self.step)
        if x.size == 0 or self.position > x.size - 1:
            self.rest = x
            return np.zeros(0, dtype=np.float32)
        count = int((x.size - 1 - self.position) // self.ratio) + 1
        at = self.position + np.arange(count) * self.ratio
        left = at.astype(np.int64)
        right = np.minimum(left + 1, x.size - 1)
        frac = (at - left).astype(np.float32)
        out = x[left] * (1 - frac) + x[right] * frac
        after = self.position + count * self.ratio
        keep = min(int(after), x.size - 1)
        self.rest = x[keep:].copy()
        self.position = after - keep
        return out


class _Worker(threading.Thread):
    """A thread fed through a bounded queue; an error stops its work but not its draining, so the
    demuxer never blocks on a dead consumer; the demuxing thread re-raises the error."""

    def __init__(self, name: str, capacity: int) -> None:
        super().__init__(name=name, daemon=True)
        self.items: queue.Queue = queue.Queue(maxsize=capacity)
        self.error: BaseException | None = None
        self.abandoned = False

    def put(self, item) -> None:
        self.items.put(item)

    def abandon(self) -> None:
        """The scan stopped early (cancelled, or an error): drop what is still queued."""
        self.abandoned = True

    def run(self) -> None:
        while True:
            item = self.items.get()
            if item is None:
                return
            if self.error is not None or self.abandoned:
                continue
            try:
                self.handle(item)
            except BaseException as exc:  # noqa: BLE001 - re-raised by the demuxing thread
                self.error = exc

    def handle(self, item) -> None:
        raise NotImplementedError


class _Faces(_Worker):
    def __init__(self, scan: Scan, detector: FaceDetector) -> None:
        super().__init__("intake-faces", FRAMES_QUEUED)
        self.scan = scan
        self.detector = detector
        self.reformatter = VideoReformatter()
        self.luma_reformatter = VideoReformatter()

    def handle(self, item: tuple[av.VideoFrame, float]) -> None:
        self.scan.faces.append(self.examine(*item))

    def examine(self, frame: av.VideoFrame, when: float) -> FaceSample:
        rotation = self.scan.rotation
        scale = min(1.0, ANALYSIS_SIDE / max(frame.width, frame.height))
        width = max(2, int(round(frame.width * scale / 2)) * 2)
        height = max(2, int(round(frame.height * scale / 2)) * 2)
        rgb = self.reformatter.reformat(frame, width=width, height=height, format="rgb24").to_ndarray()
        found = self.detector.detect(upright(rgb, rotation))
        sample = FaceSample(time=when, count=len(found))
        if not found:
            return sample
        face = max(found, key=lambda f: f.width * f.height)
        luma = upright(luma_plane(frame, self.luma_reformatter), rotation)
        h, w = luma.shape
        sample.box = (face.x * w, face.y * h, face.width * w, face.height * h)
        crop = m.inner_crop(luma, sample.box)
        if crop is not None:
            if crop.shape[1] > SHARPNESS_SIDE:
                size = (SHARPNESS_SIDE, max(1, round(crop.shape[0] * SHARPNESS_SIDE / crop.shape[1])))
                crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
            sample.sharpness = m.laplacian_variance(crop)
            sample.face_luma = float(crop.mean())
        step = max(1, max(h, w) // GRID_CELLS)
        sample.background_luma = m.background_luma(luma[::step, ::step], tuple(v / step for v in sample.box))
        return sample


class _Sound(_Worker):
    def __init__(self, scan: Scan, vad: VoiceActivity, time_base: float, max_seconds: float) -> None:
        super().__init__("intake-sound", PACKET_BATCHES_QUEUED)
        self.scan = scan
        self.vad = vad
        self.time_base = time_base
        self.max_seconds = max_seconds
        self.to_vad_rate = ToVadRate(scan.sample_rate or VAD_RATE)
        self.chunk_samples = AUDIO_CHUNK_S * (scan.sample_rate or VAD_RATE)
        self.sound: list[np.ndarray] = []
        self.sound_samples = 0
        self.layout = (True, 1)
        self.rms_rest = np.zeros(0, dtype=np.float32)

    def handle(self, item: tuple[list[av.Packet], bool]) -> None:
        """Decodes a batch of audio packets; analyses the sound once AUDIO_CHUNK_S of it gathered."""
        packets, final = item
        scan = self.scan
        for packet in packets:
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                scan.decode_errors += 1
                continue
            for frame in frames:
                if frame.pts is not None:
                    start = frame.pts * self.time_base
                    if start > self.max_seconds:
                        continue
                    end = start + frame.samples / (frame.sample_rate or scan.sample_rate or 1)
                    scan.audio_start = start if scan.audio_start is None else min(scan.audio_start, start)
                    scan.audio_end = end if scan.audio_end is None else max(scan.audio_end, end)
                raw = samples_of(frame)
                self.sound.append(raw)
                self.sound_samples += frame.samples
                self.layout = (frame.format.is_planar and raw.shape[0] > 1, frame.layout.nb_channels)
        if final or self.sound_samples >= self.chunk_samples:
            self.listen(final)

    def listen(self, final: bool) -> None:
        scan = self.scan
        planar, channels = self.layout
        native = np.zeros(0, dtype=np.float32)
        if self.sound:
            raw = np.concatenate(self.sound, axis=1) if len(self.sound) > 1 else self.sound[0]
            scan.clipped_samples += clipped_count(raw)
            scan.raw_samples += raw.size
            native = mono_float(raw, planar, channels)
        self.sound, self.sound_samples = [], 0
        samples = self.to_vad_rate(native)
        probs = self.vad.feed(samples)
        if final:
            probs = np.concatenate([probs, self.vad.finish()])
        scan.speech_probs.extend(probs.tolist())
        scan.sum_squares += float(np.square(samples, dtype=np.float64).sum())
        scan.mono_samples += samples.size
        rms, self.rms_rest = m.window_rms(np.concatenate([self.rms_rest, samples]), m.RMS_WINDOW)
        scan.window_rms.extend(rms.tolist())
        if final and self.rms_rest.size >= m.RMS_WINDOW // 2:
            scan.window_rms.append(float(np.sqrt(np.mean(self.rms_rest.astype(np.float64) ** 2))))


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise Unreadable("unreadable_open", error=f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}") from exc


def scan_video(
    path: Path,
    max_seconds: float,
    on_progress: Callable[[float], None] | None = None,
) -> Scan:
    """Decodes the file once and returns what the measures need; raises Unreadable."""
    path = Path(path)
    size = path.stat().st_size
    scan = Scan(path=path, size_bytes=size)
    if size == 0:
        raise Unreadable("unreadable_empty")
    container = _open(path)
    with container:
        scan.container = container.format.name
        if scan.container in STILL_IMAGE_FORMATS or scan.container.endswith("_pipe"):
            raise Unreadable("unreadable_still", kind=container.format.long_name or scan.container)
        if not container.streams.video:
            raise Unreadable("unreadable_sound_only" if container.streams.audio else "unreadable_no_track")
        video = container.streams.video[0]
        if video.codec_context is None:  # a track whose header was cut off or damaged: no decoder for it
            raise Unreadable("unreadable_no_codec")
        audio = container.streams.audio[0] if container.streams.audio else None
        _describe(scan, container, video, audio)
        fps = scan.average_rate or 25.0
        expected = int((scan.declared_duration or 0) * fps)
        scan.face_every = face_every(fps, expected)
        with detectors.acquire() as (detector, vad):
            workers = [_Faces(scan, detector)]
            if audio is not None:
                workers.append(_Sound(scan, vad, float(audio.time_base or 0), max_seconds))
            for worker in workers:
                worker.start()
            try:
                _decode(scan, container, video, audio, workers, max_seconds, on_progress)
            except BaseException:
                for worker in workers:
                    worker.abandon()
                raise
            finally:
                for worker in workers:
                    worker.put(None)
                for worker in workers:
                    worker.join()
            for worker in workers:
                if worker.error is not None:
                    raise worker.error
    if not scan.times:
        raise Unreadable("unreadable_no_picture", codec=scan.video_codec or "unknown", errors=scan.decode_errors)
    return scan


def _describe(scan: Scan, container, video, audio) -> None:
    scan.video_codec = video.codec_context.name
    scan.stored_width = video.codec_context.width or 0
    scan.stored_height = video.codec_context.height or 0
    scan.rotation = stream_rotation(video)
    if container.duration:
        scan.declared_duration = container.duration / av.time_base
    if video.duration and video.time_base:
        scan.declared_video_duration = float(video.duration * video.time_base)
    rate = video.average_rate or video.guessed_rate or video.base_rate
    scan.average_rate = float(rate) if rate else None
    if scan.declared_duration is None:
        scan.declared_duration = scan.declared_video_duration
    if audio is not None and audio.codec_context is not None:
        scan.has_audio = True
        scan.audio_codec = audio.codec_context.name
        scan.sample_rate = audio.codec_context.sample_rate or 0
        scan.channels = audio.codec_context.channels or 0
        if audio.duration and audio.time_base:
            scan.declared_audio_duration = float(audio.duration * audio.time_base)


def _decode(scan: Scan, container, video, audio, workers: list[_Worker], max_seconds: float, on_progress) -> None:
    """The demuxing thread: decodes the video; hands frames and audio packets to the workers."""
    faces = workers[0]
    sound = workers[1] if len(workers) > 1 else None
    streams = [video] + ([audio] if audio is not None else [])
    luma = LumaRuns(scan)
    packets: list[av.Packet] = []
    index = 0
    duration = scan.declared_duration or 0.0
    time_base = float(video.time_base) if video.time_base else 1 / 25
    fps = scan.average_rate or 25.0

    demuxed = container.demux(streams)
    while True:
        try:
            packet = next(demuxed)
        except StopIteration:
            break
        except av.error.FFmpegError:  # unreadable from here on: measure what was read
            scan.decode_errors += 1
            break
        if packet.stream.type == "audio":
            packets.append(packet)
            if len(packets) >= AUDIO_BATCH_PACKETS:
                sound.put((packets, False))
                packets = []
            continue
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            scan.decode_errors += 1
            continue
        for frame in frames:
            when = frame.pts * time_base if frame.pts is not None else index / fps
            if when > max_seconds:
                scan.truncated_at = max_seconds
                break
            if index == 0:
                scan.rotation = frame_rotation(frame) or scan.rotation
            scan.times.append(when)
            luma.add(frame)
            if index % scan.face_every == 0:
                faces.put((frame, when))
            index += 1
            if on_progress is not None and index % PROGRESS_EVERY_FRAMES == 0 and duration > 0:
                on_progress(min(0.99, when / duration))
        if scan.truncated_at is not None:
            break
    luma.flush()
    if sound is not None:
        sound.put((packets, True))
