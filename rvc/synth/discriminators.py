"""HiFi-GAN multi-period discriminators used for training: v1 periods up to 17, v2 adds 23 and 37.

``channel_divisor`` thins every layer (and the grouped convolutions' groups) by the same factor, and
``periods`` replaces the version's periods: both exist so tests and smoke runs can train a discriminator of
the same structure in seconds. With the defaults the key names and shapes are those of the original.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from rvc.synth.layers import LRELU_SLOPE, get_padding, weight_norm

PERIODS = {"v1": (2, 3, 5, 7, 11, 17), "v2": (2, 3, 5, 7, 11, 17, 23, 37)}

FeatureMaps = list[torch.Tensor]


def _thin(channels: int, divisor: int) -> int:
    """A layer width (or group count) divided by ``divisor``, never below one."""
    return max(1, channels // divisor)


class ScaleDiscriminator(nn.Module):
    """Judges the raw waveform with strided grouped 1-D convolutions."""

    def __init__(self, channel_divisor: int = 1) -> None:
        super().__init__()
        layers = [(1, 16, 15, 1, 1, 7), (16, 64, 41, 4, 4, 20), (64, 256, 41, 4, 16, 20),
                  (256, 1024, 41, 4, 64, 20), (1024, 1024, 41, 4, 256, 20), (1024, 1024, 5, 1, 1, 2)]
        d = channel_divisor
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv1d(_thin(cin, d), _thin(cout, d), k, stride, groups=_thin(groups, d), padding=pad))
            for cin, cout, k, stride, groups, pad in layers
        )
        self.conv_post = weight_norm(nn.Conv1d(_thin(1024, d), 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, FeatureMaps]:
        return _judge(self.convs, self.conv_post, x)


class PeriodDiscriminator(nn.Module):
    """Folds the waveform into rows of ``period`` samples and judges it with 2-D convolutions."""

    def __init__(self, period: int, kernel_size: int = 5, stride: int = 3, channel_divisor: int = 1) -> None:
        super().__init__()
        self.period = period
        channels = [1] + [_thin(c, channel_divisor) for c in (32, 128, 512, 1024)]
        padding = (get_padding(kernel_size, 1), 0)
        convs = [
            nn.Conv2d(cin, cout, (kernel_size, 1), (stride, 1), padding=padding)
            for cin, cout in zip(channels[:-1], channels[1:], strict=True)
        ]
        convs.append(nn.Conv2d(channels[-1], channels[-1], (kernel_size, 1), 1, padding=padding))
        self.convs = nn.ModuleList(weight_norm(conv) for conv in convs)
        self.conv_post = weight_norm(nn.Conv2d(channels[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, FeatureMaps]:
        batch, channels, length = x.shape
        if length % self.period:
            pad = self.period - length % self.period
            x = F.pad(x, (0, pad), "reflect")
            length += pad
        return _judge(self.convs, self.conv_post, x.view(batch, channels, length // self.period, self.period))


def _judge(convs: nn.ModuleList, conv_post: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, FeatureMaps]:
    """Convolutions with leaky ReLU, then the score layer; every layer's output is a feature map."""
    fmap = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU_SLOPE)
        fmap.append(x)
    x = conv_post(x)
    fmap.append(x)
    return torch.flatten(x, 1, -1), fmap


class MultiPeriodDiscriminator(nn.Module):
    """One scale discriminator plus one period discriminator per period (the version's, unless given)."""

    def __init__(
        self, version: str = "v2", periods: tuple[int, ...] | None = None, channel_divisor: int = 1
    ) -> None:
        super().__init__()
        if version not in PERIODS:
            raise ValueError(f"unknown model version {version!r} (expected 'v1' or 'v2')")
        if channel_divisor < 1:
            raise ValueError(f"channel_divisor must be a positive integer, got {channel_divisor}")
        self.periods = tuple(periods) if periods is not None else PERIODS[version]
        self.discriminators = nn.ModuleList(
            [
                ScaleDiscriminator(channel_divisor),
                *(PeriodDiscriminator(period, channel_divisor=channel_divisor) for period in self.periods),
            ]
        )

    def forward(
        self, real: torch.Tensor, fake: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[FeatureMaps], list[FeatureMaps]]:
        """Scores and feature maps of every discriminator, for the real and the generated audio."""
        real_scores, fake_scores, real_maps, fake_maps = [], [], [], []
        for discriminator in self.discriminators:
            score, fmap = discriminator(real)
            real_scores.append(score)
            real_maps.append(fmap)
            score, fmap = discriminator(fake)
            fake_scores.append(score)
            fake_maps.append(fmap)
        return real_scores, fake_scores, real_maps, fake_maps
