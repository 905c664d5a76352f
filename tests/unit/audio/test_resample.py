"""Resampling: identity at equal rates, lengths, channel handling, and that a tone keeps its frequency."""

from __future__ import annotations

import numpy as np
import pytest

from rvc.audio import SAMPLE_RATE_16K_HZ, resample
from rvc.audio.resample import resample_chunks
from tests.unit.audio._media import TONE_HZ, dominant_frequency_hz, tone


def test_equal_rates_return_the_samples_unchanged():
    signal = tone(16_000, duration_s=0.1)
    assert resample(signal, 16_000, 16_000) is signal
    as_float64 = resample(signal.astype(np.float64), 16_000, 16_000)
    assert as_float64.dtype == np.float32
    np.testing.assert_array_equal(as_float64, signal)


@pytest.mark.parametrize("from_hz", [48_000, 44_100, 8_000])
def test_a_tone_keeps_its_frequency_and_duration(from_hz):
    converted = resample(tone(from_hz), from_hz, SAMPLE_RATE_16K_HZ)
    assert converted.dtype == np.float32
    assert abs(len(converted) - SAMPLE_RATE_16K_HZ) <= 1
    assert dominant_frequency_hz(converted, SAMPLE_RATE_16K_HZ) == pytest.approx(TONE_HZ, abs=0.5)


def test_channels_first_resamples_each_channel_alike():
    left, right = tone(48_000, 0.2), tone(48_000, 0.2, frequency_hz=1000.0)
    both = resample(np.stack([left, right]), 48_000, 16_000)
    assert both.shape == (2, 3200) and both.flags.c_contiguous
    np.testing.assert_allclose(both[0], resample(left, 48_000, 16_000), atol=1e-6)
    np.testing.assert_allclose(both[1], resample(right, 48_000, 16_000), atol=1e-6)


def test_bad_rates_are_refused():
    with pytest.raises(ValueError, match="positive"):
        resample(tone(16_000, 0.1), 0, 16_000)


@pytest.mark.parametrize(("from_hz", "to_hz"), [(48_000, 16_000), (44_100, 16_000), (16_000, 40_000), (16_000, 16_000)])
def test_resampling_in_chunks_gives_the_samples_of_one_call(from_hz, to_hz):
    signal = np.random.default_rng(5).standard_normal(3 * from_hz).astype(np.float32) * 0.3
    sizes = np.random.default_rng(6).integers(1, 9000, size=200)
    chunks = np.split(signal, np.cumsum(sizes)[np.cumsum(sizes) < len(signal)])
    streamed = np.concatenate(list(resample_chunks(iter(chunks), from_hz, to_hz)))
    np.testing.assert_array_equal(streamed, resample(signal, from_hz, to_hz))
