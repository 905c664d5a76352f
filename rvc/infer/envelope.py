"""rms_mix_rate: blend the loudness envelope of the input into the output, as the original does.

The envelopes are RMS over half-second frames (centred, zero-padded: librosa's ``feature.rms`` with a frame of
two hops), linearly stretched to the output's length (torch's ``interpolate``, align_corners=False). rate = 1
keeps the output's own envelope; rate = 0 imposes the input's.

Both envelopes and the gain are computed block by block: a 10-minute song is 24 M output samples at 40 kHz,
and a whole-length chain of squared frames, stretched envelopes and powers held about 1 GB at once.
"""

from __future__ import annotations

import numpy as np

BLOCK_SAMPLES = 1 << 20
MIN_OUTPUT_ENVELOPE = 1e-6


def frame_rms(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """RMS over frames of two half-second hops centred on each hop boundary, zeros beyond both ends."""
    hop = sample_rate_hz // 2
    frames = 1 + samples.shape[0] // hop
    hop_energy = np.zeros(frames + 1)  # hop_energy[j + 1] = sum of squares of hop j
    for start in range(0, samples.shape[0], BLOCK_SAMPLES - BLOCK_SAMPLES % hop):
        block = samples[start : start + BLOCK_SAMPLES - BLOCK_SAMPLES % hop].astype(np.float64)
        np.square(block, out=block)
        sums = np.add.reduceat(block, np.arange(0, block.shape[0], hop))
        first = start // hop + 1
        hop_energy[first : first + sums.shape[0]] = sums
    return np.sqrt((hop_energy[:-1] + hop_energy[1:]) / (2 * hop))


def _stretch(envelope: np.ndarray, start: int, stop: int, length: int) -> np.ndarray:
    """Samples ``start:stop`` of ``envelope`` linearly stretched to ``length`` samples (half-pixel centres)."""
    positions = (np.arange(start, stop) + 0.5) * (envelope.shape[0] / length) - 0.5
    return np.interp(np.maximum(positions, 0), np.arange(envelope.shape[0]), envelope)


def mix_rms(
    source: np.ndarray, source_rate_hz: int, output: np.ndarray, output_rate_hz: int, rate: float
) -> np.ndarray:
    """Scale ``output`` by env_in^(1-rate) * env_out^(rate-1) (a new array; inputs are not modified)."""
    env_in = frame_rms(source, source_rate_hz)
    env_out = frame_rms(output, output_rate_hz)
    mixed = np.empty_like(output)
    length = output.shape[0]
    for start in range(0, length, BLOCK_SAMPLES):
        stop = min(start + BLOCK_SAMPLES, length)
        gain = _stretch(env_in, start, stop, length) ** (1 - rate)
        gain *= np.maximum(_stretch(env_out, start, stop, length), MIN_OUTPUT_ENVELOPE) ** (rate - 1)
        np.multiply(output[start:stop], gain, out=mixed[start:stop], casting="same_kind")
    return mixed
