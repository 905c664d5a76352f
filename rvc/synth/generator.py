"""HiFi-GAN decoder, with the NSF harmonic source for f0 models: latent frames -> waveform."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from rvc.synth.config import SynthesizerConfig
from rvc.synth.layers import LRELU_SLOPE, ResBlock, weight_norm
from rvc.synth.nsf import HarmonicSource


class Generator(nn.Module):
    """One decoder for both model kinds; ``config.f0`` adds the sine source and its per-stage convs.

    Submodules are created in the original's order (source first for NSF models) so that the
    state_dict order matches community checkpoints key for key.
    """

    def __init__(self, config: SynthesizerConfig) -> None:
        super().__init__()
        rates, kernels = config.upsample_rates, config.upsample_kernel_sizes
        initial = config.upsample_initial_channel
        self.upp = math.prod(rates)
        self.num_kernels = len(config.resblock_kernel_sizes)
        stage_channels = [initial // 2 ** (i + 1) for i in range(len(rates))]

        if config.f0:
            self.m_source = HarmonicSource(config.sample_rate)
            self.noise_convs = nn.ModuleList()
            for i, channels in enumerate(stage_channels):
                stride = math.prod(rates[i + 1 :])
                if stride > 1:
                    conv = nn.Conv1d(1, channels, kernel_size=stride * 2, stride=stride, padding=stride // 2)
                else:
                    conv = nn.Conv1d(1, channels, kernel_size=1)
                self.noise_convs.append(conv)
        self.conv_pre = nn.Conv1d(config.inter_channels, initial, 7, 1, padding=3)
        self.ups = nn.ModuleList(
            weight_norm(nn.ConvTranspose1d(initial // 2**i, channels, k, u, padding=(k - u) // 2))
            for i, (u, k, channels) in enumerate(zip(rates, kernels, stage_channels, strict=True))
        )
        self.resblocks = nn.ModuleList(
            ResBlock(channels, k, d, config.resblock)
            for channels in stage_channels
            for k, d in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True)
        )
        self.conv_post = nn.Conv1d(stage_channels[-1], 1, 7, 1, padding=3, bias=False)
        if config.gin_channels:
            self.cond = nn.Conv1d(config.gin_channels, initial, 1)

    def forward(
        self,
        x: torch.Tensor,
        f0: torch.Tensor | None = None,
        g: torch.Tensor | None = None,
        deterministic: bool = False,
    ) -> torch.Tensor:
        source = None
        if hasattr(self, "m_source"):
            if f0 is None:
                raise ValueError("this decoder needs an f0 track")
            source = self.m_source(f0, self.upp, deterministic).transpose(1, 2)
        x = self.conv_pre(x)
        if g is not None:
            x = x + self.cond(g)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            if source is not None:
                x = x + self.noise_convs[i](source)
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            xs = blocks[0](x)
            for block in blocks[1:]:
                xs = xs + block(x)
            x = xs / self.num_kernels
        x = self.conv_post(F.leaky_relu(x))
        return torch.tanh(x)
