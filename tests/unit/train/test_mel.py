"""Training spectrograms: the original's recipe, checked against an independent NumPy/librosa computation."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from rvc.train.mel import (
    LOG_MEL_FLOOR,
    MelConfig,
    _hann_window,
    _mel_basis,
    linear_spectrogram,
    mel_spectrogram,
    spec_to_mel,
)

CONFIG = MelConfig(sample_rate=40000, n_fft=2048, hop_length=400, win_length=2048, n_mels=125)
DATA_SECTION = {
    "sampling_rate": 40000, "filter_length": 2048, "hop_length": 400, "win_length": 2048,
    "n_mel_channels": 125, "mel_fmin": 0.0, "mel_fmax": None,
}


def reference_spectrogram(audio: np.ndarray, config: MelConfig) -> np.ndarray:
    """Reflect-pad (n_fft - hop) / 2, frame without centring, periodic Hann, |X| with 1e-6 under the root."""
    pad = (config.n_fft - config.hop_length) // 2
    padded = np.pad(audio.astype(np.float64), pad, mode="reflect")
    window = np.hanning(config.win_length + 1)[:-1]
    frames = 1 + (len(padded) - config.n_fft) // config.hop_length
    columns = [
        np.fft.rfft(padded[i * config.hop_length : i * config.hop_length + config.n_fft] * window)
        for i in range(frames)
    ]
    return np.sqrt(np.abs(np.stack(columns, axis=1)) ** 2 + 1e-6)


def test_config_from_the_original_data_section():
    assert MelConfig.from_data_section(DATA_SECTION) == CONFIG
    assert CONFIG.spec_channels == 1025


def test_linear_spectrogram_matches_the_recipe():
    rng = np.random.default_rng(0)
    audio = (0.3 * rng.standard_normal(40000)).astype(np.float32)
    spec = linear_spectrogram(torch.from_numpy(audio)[None], CONFIG)
    assert spec.shape == (1, 1025, 100)  # N hops of audio give N frames
    np.testing.assert_allclose(spec[0].numpy(), reference_spectrogram(audio, CONFIG), rtol=1e-4, atol=1e-4)


def test_unbatched_input_and_silence_stay_finite():
    spec = linear_spectrogram(torch.zeros(4000), CONFIG)
    assert spec.shape == (1025, 10)
    assert torch.allclose(spec, torch.full_like(spec, 1e-3))
    mel = spec_to_mel(torch.zeros(1025, 3), CONFIG)
    assert torch.allclose(mel, torch.full_like(mel, float(np.log(LOG_MEL_FLOOR))))


def test_mel_spectrogram_uses_librosa_basis_and_natural_log():
    rng = np.random.default_rng(1)
    audio = (0.3 * rng.standard_normal(8000)).astype(np.float32)
    basis = librosa.filters.mel(sr=40000, n_fft=2048, n_mels=125, fmin=0.0, fmax=None)
    expected = np.log(np.maximum(basis @ reference_spectrogram(audio, CONFIG), LOG_MEL_FLOOR))
    mel = mel_spectrogram(torch.from_numpy(audio)[None], CONFIG)
    assert mel.shape == (1, 125, 20)
    np.testing.assert_allclose(mel[0].numpy(), expected, rtol=1e-4, atol=1e-3)


def test_windows_and_bases_are_cached_per_dtype_and_device():
    cpu = torch.device("cpu")
    assert _hann_window(2048, torch.float32, cpu) is _hann_window(2048, torch.float32, cpu)
    assert _hann_window(2048, torch.float64, cpu).dtype == torch.float64
    assert _mel_basis(CONFIG, torch.float32, cpu) is _mel_basis(CONFIG, torch.float32, cpu)
    other = MelConfig(48000, 2048, 480, 2048, 128)
    assert _mel_basis(other, torch.float32, cpu).shape == (128, 1025)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64])
def test_other_input_dtypes_are_computed_in_float32(dtype):
    audio = torch.randn(1, 4000).to(dtype)
    assert mel_spectrogram(audio, CONFIG).dtype == torch.float32
