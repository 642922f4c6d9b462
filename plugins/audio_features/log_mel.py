"""Whisper's log-mel spectrogram in numpy, computed a block of rows at a time.

What Whisper's `log_mel_spectrogram` does, step by step: 16 kHz sound, reflect-padded by half a
window at both ends (torch.stft's `center=True`); a periodic Hann window of 400 samples every 160
samples (10 ms), so row r is centred on sample 160 r; the power of the one-sided FFT, with the
STFT's last column dropped (T = samples // 160 rows); librosa's Slaney mel filterbank
(`librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)`, htk=False, norm="slaney", stored as
float32); log10 of the power clamped at 1e-10; then, over the whole recording, max(x, max - 8)
and (x + 4) / 4.

Everything up to the log is per row, so blocks of rows from the same padded signal give exactly
the rows of a one-shot computation; only the last step needs the whole recording, and it runs
once every row is known. The mel filterbank is built here rather than loaded from librosa or
Whisper, neither of which the platform depends on.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SAMPLE_RATE = 16_000
N_FFT = 400
HOP = 160
N_MELS = 80
RATE = SAMPLE_RATE // HOP  # rows per second
FLOOR = 1e-10
DYNAMIC_RANGE = 8.0  # decades kept below the loudest bin

# The Slaney mel scale (Auditory Toolbox), librosa's default: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _F_SP
    logarithmic = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, logarithmic, linear)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = _F_SP * mel
    logarithmic = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, logarithmic, linear)


@lru_cache(maxsize=4)
def mel_filters(sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """float32[n_mels, 1 + n_fft // 2]: triangles between mel-spaced frequencies from 0 to Nyquist,
    each scaled to unit area in Hz (norm="slaney"). The float32 rounding of the triangle before
    the scaling follows librosa's, which made Whisper's stored filters."""
    bins = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    triangles = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    scale = 2.0 / (edges[2:] - edges[:-2])
    filters = (triangles * scale[:, None]).astype(np.float32)
    filters.flags.writeable = False
    return filters


def _hann(size: int) -> np.ndarray:
    """Periodic, as torch.hann_window(400) in Whisper."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size)


def row_count(samples: int) -> int:
    return samples // HOP


def padded(samples: np.ndarray) -> np.ndarray:
    """The sound with half a window reflected at each end, so row r is centred on sample 160 r."""
    return np.pad(np.asarray(samples, dtype=np.float32), N_FFT // 2, mode="reflect")


def log_power_rows(padded_sound: np.ndarray, first: int, stop: int) -> np.ndarray:
    """float32[stop - first, 80]: log10 of the mel power of rows first..stop-1, clamped at 1e-10."""
    span = padded_sound[first * HOP : (stop - 1) * HOP + N_FFT].astype(np.float64)
    frames = sliding_window_view(span, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * _hann(N_FFT), axis=1)) ** 2
    mel = power @ mel_filters().T.astype(np.float64)
    return np.log10(np.maximum(mel, FLOOR)).astype(np.float32)


def normalized(log_power: np.ndarray) -> np.ndarray:
    """Whisper's last step, over the whole recording: keep 8 decades below the loudest value and
    bring the values near [-1, 1]."""
    if log_power.size == 0:
        return log_power.astype(np.float32)
    kept = np.maximum(log_power, log_power.max() - DYNAMIC_RANGE)
    return ((kept + 4.0) / 4.0).astype(np.float32)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """float32[samples // 160, 80] in one go (the chunked stage gives exactly these rows)."""
    rows = row_count(len(samples))
    if rows == 0:
        return np.zeros((0, N_MELS), np.float32)
    return normalized(log_power_rows(padded(samples), 0, rows))
