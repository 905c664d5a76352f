"""rms_mix_rate's envelope mixing: the original's formula (librosa RMS, torch linear stretch), computed in blocks."""

from __future__ import annotations

import tracemalloc

import librosa
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from rvc.infer import envelope
from rvc.infer.envelope import frame_rms, mix_rms


def whole_length_reference(source, source_rate, output, output_rate, rate):
    """The original's computation over whole-length arrays."""

    def stretched(samples, sample_rate):
        rms = librosa.feature.rms(y=samples, frame_length=sample_rate // 2 * 2, hop_length=sample_rate // 2)
        return F.interpolate(torch.from_numpy(rms).unsqueeze(0), size=output.shape[0], mode="linear").squeeze()

    env_in = stretched(source, source_rate)
    env_out = torch.clamp(stretched(output, output_rate), min=1e-6)
    gain = torch.pow(env_in, torch.tensor(1 - rate)) * torch.pow(env_out, torch.tensor(rate - 1))
    return (output * gain.numpy()).astype(output.dtype)


def speech_like(seconds: float, rate: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    samples = int(seconds * rate)
    syllables = np.abs(np.sin(np.linspace(0, 3 * np.pi * seconds, samples)))
    return (rng.standard_normal(samples) * 0.2 * syllables).astype(np.float32)


@pytest.mark.parametrize("rate_hz", [16000, 32000, 44100, 48000])
@pytest.mark.parametrize("seconds", [0.2, 0.5, 3.0, 7.31])
def test_frame_rms_is_librosa_rms(rate_hz, seconds) -> None:
    samples = speech_like(seconds, rate_hz, seed=rate_hz)
    expected = librosa.feature.rms(y=samples, frame_length=rate_hz // 2 * 2, hop_length=rate_hz // 2)[0]
    np.testing.assert_allclose(frame_rms(samples, rate_hz), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("output_rate", "rate", "seconds"), [(40000, 0.25, 6.4), (48000, 0.0, 2.2), (32000, 0.7, 9.05)]
)
def test_mix_matches_the_original_formula(monkeypatch, output_rate, rate, seconds) -> None:
    monkeypatch.setattr(envelope, "BLOCK_SAMPLES", 50_000)  # many blocks, not a multiple of the hop
    source = speech_like(seconds, 16000, seed=1)
    output = speech_like(seconds, output_rate, seed=2)
    output[: output_rate // 3] = 0  # silence: the output envelope's floor
    before = output.copy()
    mixed = mix_rms(source, 16000, output, output_rate, rate)
    assert mixed.dtype == np.float32 and mixed.shape == output.shape
    np.testing.assert_array_equal(output, before)
    np.testing.assert_allclose(mixed, whole_length_reference(source, 16000, output, output_rate, rate),
                               rtol=2e-4, atol=1e-6)


def test_memory_stays_near_one_output_copy() -> None:
    output = speech_like(200, 40000, seed=3)  # 8 M samples, 32 MB
    source = speech_like(200, 16000, seed=4)
    tracemalloc.start()
    try:
        mix_rms(source, 16000, output, 40000, 0.25)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < output.nbytes + 5 * envelope.BLOCK_SAMPLES * 8, peak / 1e6  # the result + a few blocks
