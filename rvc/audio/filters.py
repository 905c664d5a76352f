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
FILTER_BLOCK_SAMPLES = 1 << 18  # 16 s at 16 kHz per lfilter call: float64 temporaries of 2 MB, not of the whole song


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
        return _filtfilt_in_blocks(b, a, samples, padlen)
    return signal.lfilter(b, a, samples).astype(np.float32)


def _filtfilt_in_blocks(b: np.ndarray, a: np.ndarray, samples: np.ndarray, padlen: int) -> np.ndarray:
    """``scipy.signal.filtfilt(b, a, samples, padlen=padlen)`` (odd extension, steady-state initial conditions) as
    float32, run block by block with the filter state carried over: the same recurrence in the same order, so the
    same numbers, but the only whole-length float64 array is the forward pass (filtfilt makes four or five: +0.2 GB
    on a 10-minute song)."""
    from scipy import signal

    zi = signal.lfilter_zi(b, a) * np.ones(samples.shape[:-1] + (1,))
    first = samples[..., :1]
    head = 2 * first - samples[..., padlen:0:-1]  # the odd extension in the input's dtype, as filtfilt makes it
    tail = 2 * samples[..., -1:] - samples[..., -2 : -(padlen + 2) : -1]
    length = samples.shape[-1] + 2 * padlen
    forward = np.empty(samples.shape[:-1] + (length,))
    state, position = zi * (head[..., :1] if padlen else first), 0
    blocks = (samples[..., i : i + FILTER_BLOCK_SAMPLES] for i in range(0, samples.shape[-1], FILTER_BLOCK_SAMPLES))
    pieces = [piece for piece in (head, *blocks, tail) if piece.shape[-1]]  # lfilter of nothing gives a wrong state
    for piece in pieces:
        stop = position + piece.shape[-1]
        forward[..., position:stop], state = signal.lfilter(b, a, piece.astype(np.float64), zi=state)
        position = stop
    output = np.empty(samples.shape, dtype=np.float32)
    state = zi * forward[..., -1:]
    for stop in range(length, 0, -FILTER_BLOCK_SAMPLES):
        start = max(0, stop - FILTER_BLOCK_SAMPLES)
        backward, state = signal.lfilter(b, a, forward[..., start:stop][..., ::-1], zi=state)
        # ``backward`` holds extended positions stop-1 .. start; keep those of the signal itself
        low, high = max(start, padlen), min(stop, padlen + samples.shape[-1])
        if low < high:
            output[..., low - padlen : high - padlen] = backward[..., stop - high : stop - low][..., ::-1]
    return output
