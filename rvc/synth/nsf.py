"""The neural source-filter excitation: a sine at f0 (the "legacy" RVC phase accumulation) and its mix.

The phase is accumulated the way every RVC release from 2023 to 2026 does it, in float32: per-sample
increments summed with one cumulative sum, minus integer wrap corrections found from a linearly
interpolated frame-level phase. It is mathematically a plain running phase, but matching the original's
float32 rounding is what keeps our outputs within 5e-6 of it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

SINE_AMPLITUDE = 0.1
VOICED_NOISE_STD = 0.003


class SineGenerator(nn.Module):
    """f0 frames [B, T] (Hz, 0 = unvoiced) -> sine excitation and voiced mask, [B, T*upp, 1] each."""

    def __init__(self, sample_rate: int, harmonic_num: int = 0) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.dim = harmonic_num + 1

    @torch.no_grad()
    def forward(
        self, f0: torch.Tensor, upp: int, deterministic: bool = False, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``noise`` [B, T*upp, 1] is the standard-normal draw scaled into the excitation's noise (default: fresh)."""
        f0 = f0.float().unsqueeze(-1)  # [B, T, 1]
        harmonics = torch.arange(1, self.dim + 1, device=f0.device, dtype=f0.dtype)
        rad_values = (f0 * harmonics / self.sample_rate) % 1  # cycles per sample, [B, T, dim]
        if not deterministic and self.dim > 1:
            initial_phase = torch.rand(f0.shape[0], self.dim, device=f0.device)
            initial_phase[:, 0] = 0
            rad_values[:, 0, :] = rad_values[:, 0, :] + initial_phase

        frame_phase = torch.cumsum(rad_values, 1) * upp
        frame_phase = F.interpolate(
            frame_phase.transpose(2, 1), scale_factor=float(upp), mode="linear", align_corners=True
        ).transpose(2, 1)
        rad_values = F.interpolate(rad_values.transpose(2, 1), scale_factor=float(upp), mode="nearest")
        rad_values = rad_values.transpose(2, 1)
        frame_phase = frame_phase % 1
        wraps = (frame_phase[:, 1:, :] - frame_phase[:, :-1, :]) < 0
        shift = torch.zeros_like(rad_values)
        shift[:, 1:, :] = wraps * -1.0
        sine = torch.sin(torch.cumsum(rad_values + shift, dim=1) * 2 * torch.pi) * SINE_AMPLITUDE

        uv = (f0 > 0).to(f0.dtype)
        uv = F.interpolate(uv.transpose(2, 1), scale_factor=float(upp), mode="nearest").transpose(2, 1)
        sine = sine * uv
        if not deterministic:
            noise_amp = uv * VOICED_NOISE_STD + (1 - uv) * SINE_AMPLITUDE / 3
            sine = sine + noise_amp * (torch.randn_like(sine) if noise is None else noise)
        return sine, uv


class HarmonicSource(nn.Module):
    """The harmonic source of NSF-HiFiGAN: tanh of a learnt 1x1 mix of the sine excitation."""

    def __init__(self, sample_rate: int, harmonic_num: int = 0) -> None:
        super().__init__()
        self.l_sin_gen = SineGenerator(sample_rate, harmonic_num)
        self.l_linear = nn.Linear(harmonic_num + 1, 1)

    def forward(
        self, f0: torch.Tensor, upp: int, deterministic: bool = False, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        sine, _ = self.l_sin_gen(f0, upp, deterministic, noise)
        return torch.tanh(self.l_linear(sine.to(self.l_linear.weight.dtype)))
