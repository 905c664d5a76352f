"""The text encoder's transformer: multi-head self-attention with relative positions, and its FFN.

Relative positions follow VITS: one shared table of 2*window+1 key and value embeddings (window 10). A pair of
positions further apart than the window gets nothing from them, so they are applied as a band of 2*window+1
offsets per query, moved to and from key positions by a pad-and-reshape skew: VITS's own trick expands all 2T-1
offsets into [T, 2T] matrices that are zero outside the band, several per layer (0.3 GB for a 17 s segment), for the
same sums. Long inputs are attended in blocks of query rows: softmax is row by row, so each block's [rows, T] scores
are all that is needed at a time (a 17 s segment's text encoder: +0.2 GB of [T, T] matrices otherwise).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from rvc.synth.layers import LayerNorm

RELATIVE_WINDOW = 10
QUERY_BLOCK_ROWS = 256  # query rows attended at a time: [heads, 256, T] scores, 7 MB for a 17 s segment


class RelativeMultiHeadAttention(nn.Module):
    def __init__(self, channels: int, n_heads: int, p_dropout: float = 0.0, window: int = RELATIVE_WINDOW):
        super().__init__()
        if channels % n_heads:
            raise ValueError(f"{channels} channels cannot be split into {n_heads} heads")
        self.n_heads = n_heads
        self.k_channels = channels // n_heads
        self.window = window
        rel_std = self.k_channels**-0.5
        self.emb_rel_k = nn.Parameter(torch.empty(1, 2 * window + 1, self.k_channels).normal_(std=rel_std))
        self.emb_rel_v = nn.Parameter(torch.empty(1, 2 * window + 1, self.k_channels).normal_(std=rel_std))
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(p_dropout)
        for conv in (self.conv_q, self.conv_k, self.conv_v):
            nn.init.xavier_uniform_(conv.weight)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        batch, channels, length = x.shape
        heads = (self.n_heads, self.k_channels, length)
        query = self.conv_q(x).view(batch, *heads).transpose(2, 3)
        key = self.conv_k(x).view(batch, *heads).transpose(2, 3)
        value = self.conv_v(x).view(batch, *heads).transpose(2, 3)

        if length <= QUERY_BLOCK_ROWS or torch.jit.is_tracing():  # traced (ONNX): one block, any length
            blocks = [(0, length)]
        else:
            blocks = [(first, min(first + QUERY_BLOCK_ROWS, length)) for first in range(0, length, QUERY_BLOCK_ROWS)]
        pieces = [
            self._attend(query[:, :, first:stop], key, value, attn_mask[:, :, first:stop], first)
            for first, stop in blocks
        ]
        output = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=2)
        output = output.transpose(2, 3).contiguous().view(batch, channels, length)
        return self.conv_o(output)

    def _attend(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attn_mask: torch.Tensor, first: int
    ) -> torch.Tensor:
        """The attention output [B, H, rows, k] of the query rows ``first..first + rows`` over all keys."""
        length = key.shape[2]
        # The scores in float32 even in a half-precision model: q.k of large activations passes fp16's 65504
        # (seen on a full-size model on CUDA: inf scores, NaN audio); these matmuls are a sliver of the work.
        with torch.autocast(query.device.type, enabled=False):
            query = query.float() / math.sqrt(self.k_channels)
            scores = torch.matmul(query, key.float().transpose(-2, -1))
            rel_logits = torch.matmul(query, self.emb_rel_k.float().unsqueeze(0).transpose(-2, -1))
            scores = scores + _band_to_matrix(rel_logits, first, length)
            scores = scores.masked_fill(attn_mask == 0, -1e4)
            p_attn = F.softmax(scores, dim=-1)
        p_attn = self.drop(p_attn.to(value.dtype))
        output = torch.matmul(p_attn, value)
        return output + torch.matmul(_matrix_to_band(p_attn, self.window, first), self.emb_rel_v.unsqueeze(0))


def _band_to_matrix(band: torch.Tensor, first: int = 0, length: int | None = None) -> torch.Tensor:
    """[B, H, R, 2w+1] indexed by offset -> [B, H, R, length] indexed by key position, for the query rows
    ``first..first + R`` (by default all of them): ``band[..., r, o + w]`` lands on ``[..., r, first + r + o]``, zeros
    elsewhere (skewed by padding each row and re-reading the rows one longer)."""
    batch, heads, rows, width = band.shape
    window = width // 2
    length = rows if length is None else length
    x = F.pad(band, [0, rows]).view(batch, heads, rows * (rows + width))
    x = x[:, :, : rows * (rows + 2 * window)].view(batch, heads, rows, rows + 2 * window)
    # column c of x is key position first - window + c
    return F.pad(x, [first - window, length - first - rows - window])


def _matrix_to_band(weights: torch.Tensor, window: int, first: int = 0) -> torch.Tensor:
    """[B, H, R, L] indexed by key position, for the query rows ``first..first + R`` -> [B, H, R, 2w+1] indexed by
    offset -w..w (0 off the matrix)."""
    batch, heads, rows, length = weights.shape
    # key positions first - window .. first + rows + window, zeros where they fall off the matrix
    x = F.pad(weights, [window - first, first + rows + window - length]).view(batch, heads, rows * (rows + 2 * window))
    x = F.pad(x, [0, rows]).view(batch, heads, rows, rows + 2 * window + 1)
    return x[:, :, :, : 2 * window + 1]


class FeedForward(nn.Module):
    """Two "same"-padded convolutions with a ReLU between them, masked at every step."""

    def __init__(self, channels: int, filter_channels: int, kernel_size: int, p_dropout: float = 0.0):
        super().__init__()
        self.pad = ((kernel_size - 1) // 2, kernel_size // 2)
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel_size)
        self.drop = nn.Dropout(p_dropout)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        x = self.conv_1(F.pad(x * x_mask, self.pad))
        x = self.drop(torch.relu(x))
        x = self.conv_2(F.pad(x * x_mask, self.pad))
        return x * x_mask


class TransformerEncoder(nn.Module):
    """Post-LN transformer: attention, add & norm, FFN, add & norm, for each layer."""

    def __init__(
        self,
        hidden_channels: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int,
        p_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.drop = nn.Dropout(p_dropout)
        self.attn_layers = nn.ModuleList(
            RelativeMultiHeadAttention(hidden_channels, n_heads, p_dropout) for _ in range(n_layers)
        )
        self.norm_layers_1 = nn.ModuleList(LayerNorm(hidden_channels) for _ in range(n_layers))
        self.ffn_layers = nn.ModuleList(
            FeedForward(hidden_channels, filter_channels, kernel_size, p_dropout) for _ in range(n_layers)
        )
        self.norm_layers_2 = nn.ModuleList(LayerNorm(hidden_channels) for _ in range(n_layers))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        attn_mask = x_mask.unsqueeze(2) * x_mask.unsqueeze(-1)
        x = x * x_mask
        for attn, norm1, ffn, norm2 in zip(
            self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2, strict=True
        ):
            x = norm1(x + self.drop(attn(x, attn_mask)))
            x = norm2(x + self.drop(ffn(x, x_mask)))
        return x * x_mask
