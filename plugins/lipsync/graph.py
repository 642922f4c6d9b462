"""The inference graph: new audio and the driving clip's crops in, the person's lower face speaking
that audio out, one per output frame.

audio -> Whisper rows -> audio2lip -> lips, smoothed over time (Savitzky-Golay: jitter is the
third most common complaint), brought to the person's range (the gain, then each coordinate's
training range), and pulled towards the person's mouth at rest where the voice activity says
silence (chatter in silence is the second) -> the lip map at the driving frame's nose -> generator
-> refiner, which draws the lower face at the person's own resolution, taking teeth and lip edges
from the recorded mouth of the nearest shape (plugins/lipsync/exemplars.py); the caller pastes it into
the full frame (plugins/lipsync/composite.py) where the geometry's square lies in the crop box.

The driving clip is played forth and back to the audio's length (`driving_order`); a caller that
loops it itself passes its own order of the clip's frames (or the looped frames themselves).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.signal import savgol_filter

from plugins.lipsync import audio2lip, exemplars, features, generator, refiner
from plugins.lipsync import data as lipdata
from plugins.lipsync.common import upstream
from plugins.lipsync.nets import Audio2Lip, Generator, Refiner
from plugins.lipsync.speech import speech_weight

SMOOTH_FRAMES = 5  # Savitzky-Golay window (0.2 s at 25 fps), order 2: keeps the peaks of syllables
# A generator trained with `smooth_frames` in its config (a "jitter" rejection doubles it, see
# host/approval.py) sets the window instead: steadier lips at the cost of the shortest syllables.
BATCH = 32
MOST_STRETCH = 3.0  # the most the lips' motion is stretched to the person's own spread
MIN_SPEECH_FRAMES = 25  # a second of speech: fewer cannot say how far the mouth moves
LEAD_S = 25.0  # made from the first Whisper window alone (its rows are kept up to 27.5 s), see render_batches
LEAD_HEAD_S = 4.0  # the sound a live answer's first frames hear, in a window of its own length (34 ms on 2 cores)
HEAD_S = 3.0  # the frames drawn from it: each hears at least 1 s after itself; time enough to encode the rest
LEAD_WHOLE_S = 6.0  # a sound this short is heard whole in one window of its own (45 ms), no head needed
LEAD_STORE_FRAMES = 15  # frames drawn (batches 1, 2, 4, 8) before the next part is encoded beside the drawing


def driving_order(count: int, clip_length: int) -> np.ndarray:
    """Which driving frame each of `count` output frames shows: forth and back (0 1 2 1 0 1 ...),
    so the clip never jumps from its last frame to its first."""
    if clip_length <= 1:
        return np.zeros(count, dtype=np.int64)
    period = 2 * (clip_length - 1)
    phase = np.arange(count) % period
    return np.where(phase < clip_length, phase, period - phase).astype(np.int64)


def frame_count(samples: int, fps: float) -> int:
    return max(1, int(round(samples / features.SAMPLE_RATE * fps)))


@dataclass
class LipSyncGraph:
    lips_net: Audio2Lip
    lips_file: dict
    generator: Generator
    generator_file: dict
    refiner: Refiner | None
    refiner_file: dict | None

    @property
    def geometry(self) -> lipdata.Geometry:
        return lipdata.Geometry.from_tensors(self.generator_file)

    @property
    def smooth_frames(self) -> int:
        """The smoothing window: odd (Savitzky-Golay needs a centre) and at least 3."""
        return max(3, int(self.generator_file["config"].get("smooth_frames", SMOOTH_FRAMES)) | 1)

    @property
    def size(self) -> int:
        return int(self.generator_file["config"]["size"])

    @property
    def top(self) -> float:
        """Where the drawn part of the lower face starts, as a share of its side: above it (the
        nose, the upper cheeks) the recording stays."""
        return float(self.generator_file["mask_top"])

    @property
    def drawn_size(self) -> int:
        """The side of the lower faces the graph draws: the refiner's, at the person's own
        resolution, or the generator's without one."""
        return self.size * (self.refiner.scale if self.refiner is not None else 1)

    @torch.no_grad()
    def predict_deltas(self, rows: torch.Tensor, envelopes: torch.Tensor, speech: np.ndarray) -> np.ndarray:
        """float32[T, 80]: audio2lip's lips per output frame from its audio window [T, 20, 512] and
        band envelopes [T, 20, 28], smoothed, moving as far as the person's own while speaking
        (`speech`: the voice activity weight per frame) and in the person's range (units of
        delta_scale, around the mean shape)."""
        count = len(rows)
        deltas = torch.cat([self.lips_net(rows[i : i + 256], envelopes[i : i + 256]) for i in range(0, count, 256)]).numpy()
        window = self.smooth_frames
        if count >= window:
            deltas = savgol_filter(deltas, window, 2, axis=0)
        deltas = self.persons_spread(deltas, np.asarray(speech) > 0.5)
        return np.clip(deltas, self.lips_file["delta_low"].numpy(), self.lips_file["delta_high"].numpy()).astype(np.float32)

    def persons_spread(self, deltas: np.ndarray, speaking: np.ndarray) -> np.ndarray:
        """The lips stretched around their mean in speech so that the drawn mouth opening spreads
        as far over this sound's speech as the person's own did in training (`speech_spread`):
        audio2lip's predictions regress to the mean (under a voice it never heard, half the
        person's motion or less) and the generator draws a little less than its map asks (the
        refiner's measured `drawn_gain`); a mouth that barely moves reads as out of sync whatever
        its timing. Never shrunk, at most MOST_STRETCH times. Model files from before these were
        measured carry a fixed gain instead."""
        spread = self.lips_file.get("speech_spread")
        drawn = float((self.refiner_file or {}).get("drawn_gain") or 0.0)
        if spread is None or drawn <= 0:
            return deltas * float(self.lips_file["gain"])
        if speaking.sum() < MIN_SPEECH_FRAMES:
            return deltas
        own = float(audio2lip.opening_delta(torch.from_numpy(deltas[speaking])).numpy().std())
        stretch = float(np.clip(float(spread) / max(drawn * own, 1e-6), 1.0, MOST_STRETCH))
        centre = deltas[speaking].mean(axis=0)
        return centre + (deltas - centre) * stretch

    def target_lips(self, samples: np.ndarray, fps: float, rows: torch.Tensor, landmarks: np.ndarray, crop_size: int) -> np.ndarray:
        """float32[T, 40, 2] in box units: the lips to draw for each output frame, from its audio
        window and its driving frame's landmarks (crop pixels, already in output order)."""
        count, geometry = len(landmarks), self.geometry
        _, anchor = lipdata.lips_in_box(landmarks, geometry, crop_size)
        valid = np.isfinite(anchor).all(axis=1)
        mean_anchor = anchor[valid].mean(axis=0) if valid.any() else np.full(2, 0.5, np.float32)
        anchor = np.where(valid[:, None], anchor, mean_anchor)
        weight = speech_weight(samples, fps, count)[:, None]
        envelopes = torch.from_numpy(features.frame_windows(features.envelope(samples), np.arange(count), fps))
        predicted = self.predict_deltas(rows, envelopes, weight[:, 0])
        deltas = weight * predicted + (1 - weight) * self.lips_file["rest"].numpy()[None]
        return (anchor[:, None] + geometry.mean_shape + deltas.reshape(count, -1, 2) * geometry.delta_scale).astype(np.float32)

    def render(self, samples: np.ndarray, faces: np.ndarray, landmarks: np.ndarray, fps: float) -> np.ndarray:
        """uint8[T, R, R, 3]: output frame t's lower face (the geometry's square of driving crop
        `driving_order(T, len(faces))[t]`, drawn at `drawn_size`) speaking the audio around t / fps.
        `faces` uint8[N, S, S, 3] and `landmarks` float32[N, 468, 2] (crop pixels) are the driving
        clip's, as in the training set."""
        return np.concatenate(list(self.render_batches(samples, faces, landmarks, fps)))

    @torch.no_grad()
    def render_batches(
        self,
        samples: np.ndarray,
        faces: np.ndarray,
        landmarks: np.ndarray,
        fps: float,
        first_batch: int = BATCH,
        order: np.ndarray | None = None,
        lead: bool = False,
    ) -> Iterator[np.ndarray]:
        """`render`'s lower faces batch by batch (uint8[B, R, R, 3], in order), so that a caller can show
        the first frames while the rest are made. What needs the whole audio (the audio features,
        the lips and their smoothing over time, the voice activity) is done before the first batch;
        a smaller `first_batch` makes the first frames come out sooner. `order`: which row of
        `faces` each output frame shows, one per output frame (default `driving_order`), so that
        a caller looping a clip passes each of its crops once rather than one per output frame.

        `lead`: for a player, the first frame as soon as it can be made, at a little more work in
        all. A sound up to LEAD_WHOLE_S is heard whole in a window of its own length
        (features.encode_short: tens of milliseconds instead of a whole 30-s window's 0.4-1.3 s
        on 2 cores). Of a longer one, the first HEAD_S seconds of frames come from its first
        LEAD_HEAD_S in such a window; the rest from the whole sound, encoded in a thread of its
        own once LEAD_STORE_FRAMES frames are drawn: in one window as long as the sound when it is
        no longer than one (0.04 s for 5 s, 0.3 s for 20 s: a padded window there took the cores
        from the frames being drawn and shown, which then came late), else in the audio's own
        30-s windows, the frames up to LEAD_S from the first window alone, before the rest is
        encoded (Whisper keeps those rows from the first window anyway), so that the first minutes
        do not wait for the last to be heard. The frames of a sound up to 30 s differ a little from
        a file's (features.encode_short); the voice activity, the smoothing and the stretch of each
        part are that part's own."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        count = frame_count(len(samples), fps)
        order = driving_order(count, len(faces)) if order is None else np.asarray(order, dtype=np.int64)
        landmarks = np.asarray(landmarks, dtype=np.float32)[order]
        crop_size = faces.shape[1]
        parts = self.lead_parts(len(samples), fps, count) if lead else [(len(samples), count, False)]
        pool = ThreadPoolExecutor(1, thread_name_prefix="whisper") if len(parts) > 1 else None
        try:
            rows, lips = self.part_conditioning(samples, fps, landmarks, crop_size, parts[0])
            done = 0
            for index, (_, end, _) in enumerate(parts):
                ahead, made = None, 0
                for batch in self.generated(faces, order, rows, lips, done, end, first_batch):
                    yield batch
                    made += len(batch)
                    # the next part once a store of frames is drawn: encoded sooner, it took the cores
                    # from the first frames, which then came late (bench.live)
                    if ahead is None and index + 1 < len(parts) and made >= LEAD_STORE_FRAMES:
                        ahead = pool.submit(self.part_conditioning, samples, fps, landmarks, crop_size, parts[index + 1])
                if index + 1 < len(parts):
                    rows, lips = (ahead or pool.submit(self.part_conditioning, samples, fps, landmarks, crop_size, parts[index + 1])).result()
                done, first_batch = end, BATCH
        finally:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)  # an answer cut short leaves at most one part being encoded

    @staticmethod
    def lead_parts(samples: int, fps: float, count: int) -> list[tuple[int, int, bool]]:
        """render_batches' parts with `lead`: (samples heard, the frame up to which it draws,
        whether they are encoded in a window of their own length), each drawing on from where the
        last stopped."""
        parts = []
        if samples > LEAD_WHOLE_S * features.SAMPLE_RATE:
            parts.append((int(LEAD_HEAD_S * features.SAMPLE_RATE), min(count, int(HEAD_S * fps)), True))
        if samples > features.WINDOW_SAMPLES:
            parts.append((features.WINDOW_SAMPLES, min(count, int(LEAD_S * fps)), False))
        parts.append((samples, count, samples <= features.WINDOW_SAMPLES))
        return parts

    def part_conditioning(self, samples: np.ndarray, fps: float, landmarks: np.ndarray, crop_size: int,
                          part: tuple[int, int, bool]) -> tuple[torch.Tensor, np.ndarray]:
        heard, _, short = part
        head = samples[:heard]
        frames = frame_count(len(head), fps)
        return self.conditioning(head, fps, frames, landmarks[:frames], crop_size, short)

    def conditioning(self, samples: np.ndarray, fps: float, count: int, landmarks: np.ndarray, crop_size: int,
                     short: bool = False) -> tuple[torch.Tensor, np.ndarray]:
        """The audio window [count, 20, 512] and the target lips [count, 40, 2] of the first
        `count` frames; `landmarks` are theirs, in output order. `short`: Whisper hears the
        samples in a window of their own length (features.encode_short)."""
        encoded = features.encode_short(samples) if short else features.encode(samples)
        rows = torch.from_numpy(features.frame_windows(encoded, np.arange(count), fps))
        return rows, self.target_lips(samples, fps, rows, landmarks, crop_size)

    def exemplars_for(self, lips: np.ndarray) -> torch.Tensor | None:
        """The person's recorded lower faces with the nearest lip shapes, for a refiner that draws
        from them (plugins/lipsync/exemplars.py); None for one that does not."""
        if self.refiner_file is None or "exemplar_lips" not in self.refiner_file:
            return None
        return exemplars.placed(self.refiner_file["exemplars"].numpy(), self.refiner_file["exemplar_lips"].numpy(), lips)

    def generated(
        self, faces: np.ndarray, order: np.ndarray, rows: torch.Tensor, lips: np.ndarray, begin: int, end: int, first_batch: int
    ) -> Iterator[np.ndarray]:
        """The lower faces of frames begin..end-1, drawn batch by batch: `first_batch` frames, then
        twice as many each batch up to BATCH, so that a player showing the first ones has a
        growing store of them while the next batch is drawn (a small batch then a whole one left
        a player 4 frames to show while 32 were drawn: late frames)."""
        geometry, size, top = self.geometry, self.size, self.top
        reference = self.generator_file["reference"].permute(2, 0, 1).float()[None] / 255.0
        starts = batch_starts(begin, end, first_batch)
        for first, stop in zip(starts, [*starts[1:], end]):
            part = order[first:stop]
            lower = to_tensor(lipdata.cut_lower(np.asarray(faces)[part], geometry, size))
            maps = generator.lip_map_tensor(lips[first:stop], size)
            made = self.generator(generator.masked(lower, top), reference.expand(len(part), -1, -1, -1), maps, rows[first:stop])
            if self.refiner is not None:
                made = self.refiner(made, self.exemplars_for(lips[first:stop]))
            yield (made.permute(0, 2, 3, 1).numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8)


def batch_starts(begin: int, end: int, first_batch: int) -> list[int]:
    """The first frame of each batch of frames begin..end-1: `first_batch` frames, then twice as
    many each batch up to BATCH."""
    starts, size, at = [], max(1, min(first_batch, BATCH)), begin
    while at < end:
        starts.append(at)
        at += size
        size = min(BATCH, 2 * size)
    return starts


def to_tensor(pictures: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(pictures)).permute(0, 3, 1, 2).float() / 255.0


def load_graph(paths: dict[str, Path]) -> LipSyncGraph:
    """The graph from the sub-models' files by name (audio2lip, generator, and refiner when
    present; syncnet is a training loss and a measure, not part of rendering)."""
    torch.set_num_threads(min(2, torch.get_num_threads()))
    lips_net, lips_file = audio2lip.load(upstream(paths, "audio2lip", "the lip-sync graph"))
    net, generator_file = generator.load(upstream(paths, "generator", "the lip-sync graph"))
    polish, polish_file = refiner.load(Path(paths["refiner"])) if "refiner" in paths else (None, None)
    return LipSyncGraph(lips_net, lips_file, net, generator_file, polish, polish_file)
