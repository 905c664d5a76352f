"""The 48 Hz high-pass of the RVC pipeline, which removes rumble and DC before features and pitch are computed.

scipy.signal is imported on first use: it takes half a second, and a process is ready to take a request before it
filters anything.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from rvc.audio.resample import SAMPLE_RATE_16K_HZ

HIGHPASS_CUTOFF_HZ = 48
HIGHPASS_ORDER = 5


@lru_cache(maxsize=8)
def _highpass_coefficients(sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray]:
    """(b, a) exactly as the original designs them, so filtered audio matches the ecosystem's sample for sample."""
    from scipy import signal

    return signal.butter(N=HIGHPASS_ORDER, Wn=HIGHPASS_CUTOFF_HZ, btype="high", fs=sample_rate_hz)


def highpass_48hz(samples: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_16K_HZ, zero_phase: bool = True) -> np.ndarray:
    """A 5th-order Butterworth high-pass at 48 Hz along the last axis; returns float32.

    ``zero_phase=True`` (forward and backward, ``filtfilt``) is what the original applies to the 16 kHz input
    before conversion: no phase shift, twice the attenuation. ``zero_phase=False`` (one causal pass, ``lfilter``)
    is what its training preprocessing applies to each recording.
    """
    samples = np.asarray(samples, dtype=np.float32)
    if samples.shape[-1] == 0:
        return samples.copy()
    from scipy import signal

    b, a = _highpass_coefficients(sample_rate_hz)
    if zero_phase:
        # filtfilt's default edge padding (3 * filter length) needs a longer input; short clips pad what they can.
        padlen = min(3 * max(len(a), len(b)), samples.shape[-1] - 1)
        filtered = signal.filtfilt(b, a, samples, padlen=padlen)
    else:
        filtered = signal.lfilter(b, a, samples)
    return filtered.astype(np.float32)
