"""The 48 Hz high-pass: what it removes, what it keeps, and that it is the original RVC filter."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from rvc.audio import SAMPLE_RATE_16K_HZ, highpass_48hz
from tests.unit.audio._media import amplitude_at, tone

RATE_HZ = SAMPLE_RATE_16K_HZ


def db(ratio: float) -> float:
    return 20 * np.log10(ratio)


@pytest.fixture(scope="module")
def mix() -> np.ndarray:
    """2 s of 20 Hz rumble plus a 440 Hz tone, 0.4 amplitude each."""
    return tone(RATE_HZ, 2.0, frequency_hz=20.0, amplitude=0.4) + tone(RATE_HZ, 2.0, amplitude=0.4)


@pytest.mark.parametrize("zero_phase", [True, False])
def test_removes_20hz_and_keeps_440hz(mix, zero_phase):
    filtered = highpass_48hz(mix, zero_phase=zero_phase)
    assert filtered.dtype == np.float32 and filtered.shape == mix.shape
    # The last second (whole periods of both tones) is past the causal filter's start-up transient.
    last_second = filtered[RATE_HZ:]
    assert db(amplitude_at(last_second, RATE_HZ, 20.0) / 0.4) < -20
    assert abs(db(amplitude_at(last_second, RATE_HZ, 440.0) / 0.4)) < 0.5


def test_is_the_original_rvc_filter(mix):
    bh, ah = signal.butter(N=5, Wn=48, btype="high", fs=16000)
    np.testing.assert_allclose(highpass_48hz(mix), signal.filtfilt(bh, ah, mix), atol=1e-6)
    np.testing.assert_allclose(highpass_48hz(mix, zero_phase=False), signal.lfilter(bh, ah, mix), atol=1e-6)


def test_other_rates_move_the_design_not_the_cutoff():
    rate_hz = 48_000
    mixed = tone(rate_hz, 1.0, frequency_hz=20.0) + tone(rate_hz, 1.0)
    filtered = highpass_48hz(mixed, sample_rate_hz=rate_hz)
    assert db(amplitude_at(filtered, rate_hz, 20.0) / 0.5) < -20
    assert abs(db(amplitude_at(filtered, rate_hz, 440.0) / 0.5)) < 0.5


@pytest.mark.parametrize(("shape", "block"), [((1,), 4), ((10,), 4), ((33,), 7), ((1000,), 64), ((2, 5000), 333)])
def test_filtered_in_blocks_it_gives_filtfilts_numbers_exactly(monkeypatch, shape, block):
    """Block by block with the state carried over (a 10-minute song is never filtered whole in float64): bit for bit
    what scipy's filtfilt gives, across block edges, the odd-extension edges and a stereo axis."""
    from rvc.audio import filters

    monkeypatch.setattr(filters, "FILTER_BLOCK_SAMPLES", block)
    samples = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
    bh, ah = signal.butter(N=5, Wn=48, btype="high", fs=16000)
    expected = signal.filtfilt(bh, ah, samples, padlen=min(18, shape[-1] - 1)).astype(np.float32)
    np.testing.assert_array_equal(highpass_48hz(samples), expected)


@pytest.mark.parametrize("length", [0, 1, 10])
def test_short_inputs_do_not_fail(length):
    assert highpass_48hz(np.ones(length, np.float32)).shape == (length,)
