"""Building blocks shared by the synthesizer's parts: masks, weight-normed convolutions, WaveNet, ResBlocks.

Weight-normed layers use torch's classic `weight_norm`, whose parameters are `weight_g` and `weight_v`
(in the order bias, weight_g, weight_v): exactly the names every RVC checkpoint stores, so community
files load strictly. For inference the norm is folded into a plain weight once (`fold_weight_norm`)
instead of being recomputed on every forward pass.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.nn import functional as F

LRELU_SLOPE = 0.1


_WeightNorm = nn.utils.weight_norm.__globals__["WeightNorm"]  # torch's classic weight-norm hook (not exported)


def weight_norm(module: nn.Module) -> nn.Module:
    """Classic weight norm (`weight_g`/`weight_v`), without torch's deprecation chatter.

    On the meta device (a model built to receive a file's weights) `weight_g` and `weight_v` are only declared, in
    torch's order and shapes: torch would compute the norm through its Python meta kernels, 1.3 ms a layer and a fifth
    of a second per synthesizer at start-up, for values the file's tensors replace.
    """
    if module.weight.is_meta:
        weight = module._parameters.pop("weight")
        norm_shape = (weight.shape[0],) + (1,) * (weight.dim() - 1)
        module.register_parameter("weight_g", nn.Parameter(weight.new_empty(norm_shape)))
        module.register_parameter("weight_v", nn.Parameter(weight.detach()))
        module.weight = weight.detach()  # a plain tensor, recomputed from g and v before each forward (as torch's)
        module.register_forward_pre_hook(_WeightNorm("weight", 0))
        return module
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return nn.utils.weight_norm(module)


def fold_weight_norm(model: nn.Module) -> nn.Module:
    """Replace every classic weight norm in ``model`` by the plain weight it computes (in place)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for module in model.modules():
            for hook in list(module._forward_pre_hooks.values()):
                if isinstance(hook, _WeightNorm):
                    nn.utils.remove_weight_norm(module)
    return model


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


def sequence_mask(lengths: torch.Tensor, max_length: int | None = None) -> torch.Tensor:
    """Boolean [B, T] mask that is True on the first ``lengths[b]`` frames of each row."""
    if max_length is None:
        max_length = int(lengths.max())
    positions = torch.arange(max_length, dtype=lengths.dtype, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


class LayerNorm(nn.Module):
    """Layer norm over channels of a [B, C, T] tensor; parameters named `gamma`/`beta` as RVC stores them."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, -1)
        x = F.layer_norm(x, (self.channels,), self.gamma, self.beta, self.eps)
        return x.transpose(1, -1)


class WaveNet(nn.Module):
    """Non-causal WaveNet stack with gated tanh/sigmoid units, conditioned on a speaker embedding.

    Used by the flow's coupling layers and the posterior encoder.
    """

    def __init__(
        self,
        hidden_channels: int,
        kernel_size: int,
        dilation_rate: int,
        n_layers: int,
        gin_channels: int = 0,
        p_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.n_layers = n_layers
        self.in_layers = nn.ModuleList()
        self.res_skip_layers = nn.ModuleList()
        self.drop = nn.Dropout(p_dropout)
        if gin_channels:
            self.cond_layer = weight_norm(nn.Conv1d(gin_channels, 2 * hidden_channels * n_layers, 1))
        for i in range(n_layers):
            dilation = dilation_rate**i
            self.in_layers.append(
                weight_norm(
                    nn.Conv1d(
                        hidden_channels,
                        2 * hidden_channels,
                        kernel_size,
                        dilation=dilation,
                        padding=get_padding(kernel_size, dilation),
                    )
                )
            )
            res_skip_channels = 2 * hidden_channels if i < n_layers - 1 else hidden_channels
            self.res_skip_layers.append(weight_norm(nn.Conv1d(hidden_channels, res_skip_channels, 1)))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.hidden_channels
        output = torch.zeros_like(x)
        if g is not None:
            g = self.cond_layer(g)
        for i in range(self.n_layers):
            x_in = self.in_layers[i](x)
            if g is not None:
                x_in = x_in + g[:, i * 2 * hidden : (i + 1) * 2 * hidden, :]
            acts = torch.tanh(x_in[:, :hidden]) * torch.sigmoid(x_in[:, hidden:])
            res_skip = self.res_skip_layers[i](self.drop(acts))
            if i < self.n_layers - 1:
                x = (x + res_skip[:, :hidden]) * x_mask
                output = output + res_skip[:, hidden:]
            else:
                output = output + res_skip
        return output * x_mask


class ResBlock(nn.Module):
    """HiFi-GAN residual block: type "1" (two convs per dilation) or "2" (one conv per dilation)."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...], kind: str = "1") -> None:
        super().__init__()
        if kind not in ("1", "2"):
            raise ValueError(f"unknown resblock type {kind!r} (expected '1' or '2')")
        self.kind = kind

        def conv(dilation: int) -> nn.Module:
            padding = get_padding(kernel_size, dilation)
            return weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=dilation, padding=padding))

        if kind == "1":
            self.convs1 = nn.ModuleList(conv(d) for d in dilations)
            self.convs2 = nn.ModuleList(conv(1) for _ in dilations)
        else:
            self.convs = nn.ModuleList(conv(d) for d in dilations[:2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In place where autograd keeps nothing of the tensor changed (a conv's output, a leaky ReLU with a positive
        # slope, which differentiates from its result): one buffer fewer at the decoder's widest stage.
        if self.kind == "1":
            for conv1, conv2 in zip(self.convs1, self.convs2, strict=True):
                xt = conv1(F.leaky_relu(x, LRELU_SLOPE))
                x = conv2(F.leaky_relu_(xt, LRELU_SLOPE)).add_(x)
        else:
            for conv in self.convs:
                x = conv(F.leaky_relu(x, LRELU_SLOPE)).add_(x)
        return x


def slice_segments(x: torch.Tensor, starts: torch.Tensor, segment_size: int) -> torch.Tensor:
    """Cut ``segment_size`` steps of the last axis from each row, starting at ``starts[b]``."""
    index = starts.view(-1, *([1] * (x.dim() - 1))) + torch.arange(segment_size, device=x.device)
    index = index.expand(*x.shape[:-1], segment_size)
    return torch.gather(x, -1, index)


def random_segments(
    x: torch.Tensor, lengths: torch.Tensor, segment_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random training windows of ``segment_size`` frames inside each row's valid length."""
    max_start = (lengths - segment_size + 1).clamp(min=1)
    starts = (torch.rand(x.size(0), device=x.device) * max_start).long()
    return slice_segments(x, starts, segment_size), starts
