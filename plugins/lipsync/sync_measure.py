"""A lip-sync measure that needs no trained judge: how well the mouth opening follows the sound
(the platform's definition, ../shared/ARCHITECTURE.md "Measuring a digital human").

No pretrained sync expert can be had here, so sync is measured with what can be proved: the mouth
opening of every frame (inner-lip gap of the face mesh over the distance between the outer eye
corners, so that head size and distance do not count) against how fast the sound of the speech
band (800..3000 Hz, where the vowels' second formant lies) grows louder around the frame's middle.
The mouth opens as a syllable's sound rises, a little before its loudest part; measured on the
sample recordings, the rise of the speech band tells a true pairing from the same video with its
sound a second late and from another speaker's sound on all four (the plain loudness, RMS over all
frequencies, failed two of the four), and puts the true pairings' peak within one frame of 0 where
the loudness put it 2 to 8 frames off (docs/evaluation.md has the figures).

Only frames inside speech count (silero's voice activity per frame, as the vad stage makes its
mask, so pauses between phrases are out): people open their mouths to breathe between phrases,
which anti-correlates with the sound and would hide a good sync. Pearson correlation at every
offset within a second either way (positive: the mouth moves after the sound: a search of a
second, so that sound half a second late, a common fault of a recording or a render, is seen, not
cut off at the search's edge); the confidence is the best correlation minus the median over the
offsets, so that a mouth that merely moves a lot, which
correlates a little at every offset, does not pass for one in sync. A generated video should peak
within one frame of 0; real recordings are sometimes a few frames off. The floor is the driving
clip left unchanged under the same audio, near 0 confidence; short clips are noisy (10 s or more
tells a true pairing from a false one reliably).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from plugins.face_track.mesh import mesh_points, new_mesh
from plugins.media.audio import SAMPLE_RATE, read_audio
from plugins.media.frames import probe, read_frames
from plugins.vad.mask import frame_probabilities, speech_mask
from plugins.vad.windows import WINDOW_S as VAD_WINDOW_S
from plugins.vad.windows import window_count, window_probabilities
from plugins.video_analysis.detectors import VAD_RATE, VoiceActivity

INNER_TOP, INNER_BOTTOM = 13, 14
EYE_CORNERS = (33, 263)
MAX_LAG_S = 1.0  # the offsets searched, either way
SPEECH_BAND = (800.0, 3000.0)  # Hz
WINDOW_S = 0.064


@dataclass(frozen=True)
class SyncMeasure:
    lag0: float  # correlation at offset 0
    best: float  # best correlation within +-max_lag frames
    lag: int  # the offset of the best correlation, in frames
    confidence: float  # best minus the median correlation over the offsets
    frames: int  # frames that counted at offset 0: a face, inside speech

    def as_dict(self) -> dict:
        return asdict(self)


def mouth_opening(frames: Iterable[np.ndarray]) -> np.ndarray:
    """float32[N]: inner-lip gap over eye-corner distance per RGB frame (NaN without a face)."""
    mesh = new_mesh()
    values = []
    try:
        for rgb in frames:
            points = mesh_points(mesh, np.ascontiguousarray(rgb))
            if points is None:
                values.append(np.nan)
                continue
            eyes = float(np.linalg.norm(points[EYE_CORNERS[0], :2] - points[EYE_CORNERS[1], :2]))
            gap = float(np.linalg.norm(points[INNER_TOP, :2] - points[INNER_BOTTOM, :2]))
            values.append(gap / eyes if eyes > 0 else np.nan)
    finally:
        mesh.close()
    return np.asarray(values, dtype=np.float32)


def max_lag(fps: float) -> int:
    """Frames searched either way: MAX_LAG_S at the video's rate."""
    return max(1, int(round(MAX_LAG_S * fps)))


def band_loudness(samples: np.ndarray, fps: float, count: int, rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32[count]: amplitude of the speech band in a 64 ms Hann window centred on each frame's
    middle (0 past the sound's end)."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    width = int(round(WINDOW_S * rate))
    padded = np.pad(samples, (width // 2, width))
    centres = np.round((np.arange(count) + 0.5) * rate / fps).astype(np.int64)
    centres = np.minimum(centres, len(samples) + width // 2)
    frequencies = np.fft.rfftfreq(width, 1.0 / rate)
    band = (frequencies >= SPEECH_BAND[0]) & (frequencies < SPEECH_BAND[1])
    taper = np.hanning(width).astype(np.float32)
    loudness = np.empty(count, dtype=np.float32)
    for first in range(0, count, 1024):  # a minute of frames at a time: the windows are not all held
        rows = centres[first : first + 1024][:, None] + np.arange(width)[None]
        power = np.abs(np.fft.rfft(padded[rows] * taper, axis=1)) ** 2
        loudness[first : first + 1024] = np.sqrt(power[:, band].sum(axis=1))
    return loudness


def articulation(samples: np.ndarray, fps: float, count: int, rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32[count]: what the mouth opening follows, the rise of the speech band's loudness per
    frame."""
    loudness = band_loudness(samples, fps, count, rate)
    if count < 2:
        return np.zeros(count, dtype=np.float32)
    return np.gradient(loudness.astype(np.float64)).astype(np.float32)


def speech_frames(samples: np.ndarray, fps: float, count: int) -> np.ndarray:
    """bool[count]: which frames of 16 kHz sound are speech, as the vad stage flags them (time
    past the sound's end is silence)."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if samples.size == 0:
        return np.zeros(count, dtype=bool)
    windows = window_probabilities(VoiceActivity(), samples, 0, window_count(samples.size))
    return speech_mask(frame_probabilities(windows, VAD_WINDOW_S, fps, count), fps)


def _pearson(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """The correlation over the pairs where both are finite, and how many pairs that is."""
    keep = np.isfinite(a) & np.isfinite(b)
    counted = int(keep.sum())
    if counted < 3 or a[keep].std() < 1e-9 or b[keep].std() < 1e-9:
        return 0.0, counted
    return float(np.corrcoef(a[keep], b[keep])[0, 1]), counted


def correlate(opening: np.ndarray, sound: np.ndarray, max_lag: int, counted: np.ndarray | None = None) -> SyncMeasure:
    """Correlations of opening[t + lag] with sound[t] for lag in -max_lag..max_lag, over the
    frames t where `counted` (bool per frame of the sound; default: all)."""
    count = min(len(opening), len(sound))
    opening = np.asarray(opening[:count], np.float64)
    sound = np.asarray(sound[:count], np.float64).copy()
    if counted is not None:
        sound[~np.asarray(counted[:count], bool)] = np.nan
    by_lag, pairs = {}, {}
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            by_lag[lag], pairs[lag] = _pearson(opening[lag:], sound[: count - lag])
        else:
            by_lag[lag], pairs[lag] = _pearson(opening[: count + lag], sound[-lag:])
    best = max(by_lag, key=lambda k: (by_lag[k], -abs(k)))
    confidence = by_lag[best] - float(np.median(list(by_lag.values())))
    return SyncMeasure(by_lag[0], by_lag[best], best, confidence, pairs[0])


def measure_frames(frames: Iterable[np.ndarray], samples: np.ndarray, fps: float, rate: int = SAMPLE_RATE) -> SyncMeasure:
    """The measure of RGB frames (at `fps`) played with `samples` (at `rate`, 16 kHz for the
    voice activity) from the first frame on."""
    if rate != VAD_RATE:
        raise ValueError(f"the sync measure finds speech in {VAD_RATE} Hz sound, not {rate} Hz")
    opening = mouth_opening(frames)
    count = len(opening)
    return correlate(opening, articulation(samples, fps, count, rate), max_lag(fps), speech_frames(samples, fps, count))


def measure_video(path: Path, samples: np.ndarray | None = None) -> SyncMeasure:
    """The measure of a video file with its own sound, or with `samples` (16 kHz) instead."""
    info = probe(Path(path))
    sound = read_audio(Path(path)) if samples is None else samples
    return measure_frames((rgb for _, rgb in read_frames(Path(path), 0, info.frame_count)), sound, info.fps)
