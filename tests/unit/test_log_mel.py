"""The numpy log-mel is Whisper's: the filterbank against values librosa published and against its
definition, the whole spectrogram against Whisper's own torch code, rows on their times, and
chunks that add up to exactly the one-shot result."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from plugins.audio_features import log_mel

# librosa.filters.mel(sr=4000, n_fft=30, n_mels=4) (Slaney scale, norm="slaney"), transposed: the
# reference of test_mel_filter_bank_slaney_norm in Hugging Face transformers'
# tests/utils/test_audio_utils.py, generated there with librosa.
LIBROSA_4000_30_4 = np.array([
    [0.0, 0.0, 0.0, 0.0],
    [1.19217795e-03, 0.0, 0.0, 0.0],
    [2.38435591e-03, 0.0, 0.0, 0.0],
    [2.40387905e-03, 5.86232616e-04, 0.0, 0.0],
    [1.21170110e-03, 1.77821783e-03, 0.0, 0.0],
    [1.95231437e-05, 2.97020305e-03, 0.0, 0.0],
    [0.0, 1.81763684e-03, 1.04857612e-03, 0.0],
    [0.0, 6.26036972e-04, 2.11460963e-03, 0.0],
    [0.0, 0.0, 2.26505954e-03, 3.07332945e-04],
    [0.0, 0.0, 1.40202503e-03, 9.54861093e-04],
    [0.0, 0.0, 5.38990521e-04, 1.60238924e-03],
    [0.0, 0.0, 0.0, 1.83458185e-03],
    [0.0, 0.0, 0.0, 1.37593638e-03],
    [0.0, 0.0, 0.0, 9.17290923e-04],
    [0.0, 0.0, 0.0, 4.58645462e-04],
    [0.0, 0.0, 0.0, 0.0],
])


def whisper_log_mel(audio: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """openai/whisper's log_mel_spectrogram (whisper/audio.py), given the filterbank it loads from
    mel_filters.npz; rows as time."""
    window = torch.hann_window(log_mel.N_FFT)
    stft = torch.stft(torch.from_numpy(audio), log_mel.N_FFT, log_mel.HOP, window=window, return_complex=True)
    magnitudes = stft[..., :-1].abs() ** 2
    mel_spec = torch.from_numpy(filters.copy()) @ magnitudes
    log_spec = torch.clamp(mel_spec, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).numpy().T


def mixed_sound() -> np.ndarray:
    """3.3 s that is not a whole number of rows: a chirp, noise, a stretch of silence and clicks."""
    rng = np.random.default_rng(7)
    t = np.arange(52_837) / 16_000
    sound = 0.4 * np.sin(2 * np.pi * (100 + 1_200 * t) * t) + 0.05 * rng.standard_normal(t.size)
    sound[16_000:24_000] = 0.0
    sound[30_000:52_837:4_000] = 0.9
    return sound.astype(np.float32)


def slaney_hz_to_mel(hz: float) -> float:
    return hz / (200 / 3) if hz < 1000 else 15 + math.log(hz / 1000) * 27 / math.log(6.4)


def slaney_mel_to_hz(mel: float) -> float:
    return mel * 200 / 3 if mel < 15 else 1000 * math.exp((mel - 15) * math.log(6.4) / 27)


def test_filterbank_matches_librosa():
    assert np.allclose(log_mel.mel_filters(4000, 30, 4).T, LIBROSA_4000_30_4, rtol=1e-6, atol=1e-12)


def test_whisper_filterbank_is_unit_area_triangles_on_the_slaney_scale():
    filters = log_mel.mel_filters()
    assert filters.shape == (80, 201) and filters.dtype == np.float32
    assert slaney_hz_to_mel(1000) == pytest.approx(15) and float(log_mel.hz_to_mel(6400)) == pytest.approx(42)
    top = slaney_hz_to_mel(8000)
    edges = [slaney_mel_to_hz(top * k / 81) for k in range(82)]
    for band in range(80):
        low, centre, high = edges[band : band + 3]
        height = 2 / (high - low)  # a triangle of unit area in Hz
        for bin_ in range(201):
            hz = bin_ * 40.0
            expected = height * max(0.0, min((hz - low) / (centre - low), (high - hz) / (high - centre)))
            assert filters[band, bin_] == pytest.approx(expected, rel=1e-6, abs=1e-9), (band, bin_)
        if high - low > 400:  # ten bins or more: the sum over bins approximates the area
            assert filters[band].sum() * 40.0 == pytest.approx(1.0, abs=0.01), band


def test_log_mel_is_whispers():
    sound = mixed_sound()
    ours = log_mel.log_mel(sound)
    assert ours.shape == (52_837 // 160, 80) and ours.dtype == np.float32
    reference = whisper_log_mel(sound, log_mel.mel_filters())
    assert reference.shape == ours.shape
    assert np.abs(ours - reference).max() < 5e-5
    assert ours.max() - ours.min() == pytest.approx(2.0)  # 8 decades, over 4


def test_chunks_add_up_to_exactly_the_one_shot_rows():
    sound = mixed_sound()
    padded = log_mel.padded(sound)
    rows = log_mel.row_count(sound.size)
    whole = log_mel.log_power_rows(padded, 0, rows)
    for chunk in (1, 7, 100, 329):
        pieces = [log_mel.log_power_rows(padded, first, min(rows, first + chunk)) for first in range(0, rows, chunk)]
        assert np.array_equal(np.concatenate(pieces), whole), chunk
    assert np.array_equal(log_mel.normalized(whole), log_mel.log_mel(sound))


def test_row_r_is_centred_on_10r_ms():
    click = np.zeros(16_000, np.float32)
    click[50 * 160] = 1.0  # at 500 ms
    level = log_mel.log_mel(click).mean(axis=1)
    floor = level.min()
    assert int(np.argmax(level)) == 50
    assert level[49] == pytest.approx(level[51], abs=1e-4) and floor < level[49] < level[50]
    assert np.all(level[:49] == floor) and np.all(level[52:] == floor)


def test_silence_is_the_floor():
    assert np.array_equal(log_mel.log_mel(np.zeros(1_600, np.float32)), np.full((10, 80), -1.5, np.float32))
