"""The normalising flow between the posterior latent and the prior: mean-only affine couplings + flips."""

from __future__ import annotations

import torch
from torch import nn

from rvc.synth.layers import WaveNet


class CouplingLayer(nn.Module):
    """Shifts the second half of the channels by a WaveNet of the first half (volume preserving)."""

    def __init__(
        self, channels: int, hidden_channels: int, kernel_size: int, dilation_rate: int, n_layers: int,
        gin_channels: int,
    ) -> None:
        super().__init__()
        self.half_channels = channels // 2
        self.pre = nn.Conv1d(self.half_channels, hidden_channels, 1)
        self.enc = WaveNet(hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels)
        self.post = nn.Conv1d(hidden_channels, self.half_channels, 1)
        self.post.weight.data.zero_()
        self.post.bias.data.zero_()

    def forward(
        self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor | None = None, reverse: bool = False
    ) -> torch.Tensor:
        x0, x1 = torch.split(x, [self.half_channels] * 2, 1)
        h = self.enc(self.pre(x0) * x_mask, x_mask, g=g)
        shift = self.post(h) * x_mask
        x1 = (x1 - shift) * x_mask if reverse else shift + x1 * x_mask
        return torch.cat([x0, x1], 1)


class Flip(nn.Module):
    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return torch.flip(x, [1])


class ResidualCouplingBlock(nn.Module):
    """n_flows coupling layers, each followed by a channel flip (`flows.0`, `flows.2`, ... hold weights)."""

    def __init__(
        self,
        channels: int,
        hidden_channels: int,
        kernel_size: int = 5,
        dilation_rate: int = 1,
        n_layers: int = 3,
        n_flows: int = 4,
        gin_channels: int = 0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(n_flows):
            layers.append(
                CouplingLayer(channels, hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels)
            )
            layers.append(Flip())
        self.flows = nn.ModuleList(layers)

    def forward(
        self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor | None = None, reverse: bool = False
    ) -> torch.Tensor:
        flows = reversed(self.flows) if reverse else self.flows
        for flow in flows:
            x = flow(x, x_mask, g=g, reverse=reverse)
        return x
