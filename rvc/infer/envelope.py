"""rms_mix_rate: blend the loudness envelope of the input into the output, as the original does.

The envelopes are RMS over half-second frames, linearly stretched to the output's length. rate = 1 keeps the
output's own envelope; rate = 0 imposes the input's.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch
from torch.nn import functional as F


def _envelope(samples: np.ndarray, sample_rate_hz: int, length: int) -> torch.Tensor:
    rms = librosa.feature.rms(y=samples, frame_length=sample_rate_hz // 2 * 2, hop_length=sample_rate_hz // 2)
    return F.interpolate(torch.from_numpy(rms).unsqueeze(0), size=length, mode="linear").squeeze()


def mix_rms(
    source: np.ndarray, source_rate_hz: int, output: np.ndarray, output_rate_hz: int, rate: float
) -> np.ndarray:
    """Scale ``output`` by env_in^(1-rate) * env_out^(rate-1) (a new array; inputs are not modified)."""
    env_in = _envelope(source, source_rate_hz, output.shape[0])
    env_out = torch.clamp(_envelope(output, output_rate_hz, output.shape[0]), min=1e-6)
    gain = torch.pow(env_in, torch.tensor(1 - rate)) * torch.pow(env_out, torch.tensor(rate - 1))
    return (output * gain.numpy()).astype(output.dtype, copy=False)
