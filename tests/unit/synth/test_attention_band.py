"""Relative positions as a band of offsets: the skews to and from key positions match their definition."""

from __future__ import annotations

import pytest
import torch

from rvc.synth import attention
from rvc.synth.attention import RelativeMultiHeadAttention, _band_to_matrix, _matrix_to_band


def _by_definition(band: torch.Tensor, matrix: torch.Tensor, first: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The matrix a band of query rows ``first..`` makes, and the band a matrix of those rows gives, element by element:
    offset ``o`` of row ``r`` is key position ``first + r + o`` (nothing where that falls off the matrix)."""
    rows, width = band.shape[-2:]
    window, length = width // 2, matrix.shape[-1]
    expected_matrix, expected_band = torch.zeros_like(matrix), torch.zeros_like(band)
    for r in range(rows):
        for offset in range(-window, window + 1):
            if 0 <= first + r + offset < length:
                expected_matrix[..., r, first + r + offset] = band[..., r, offset + window]
                expected_band[..., r, offset + window] = matrix[..., r, first + r + offset]
    return expected_matrix, expected_band


@pytest.mark.parametrize("window", [2, 10])
@pytest.mark.parametrize("length", [1, 3, 10, 11, 12, 25])
def test_band_and_matrix_follow_the_definition(length, window):
    band, matrix = torch.randn(2, 3, length, 2 * window + 1), torch.randn(2, 3, length, length)
    expected_matrix, expected_band = _by_definition(band, matrix, 0)
    torch.testing.assert_close(_band_to_matrix(band), expected_matrix, rtol=0, atol=0)
    torch.testing.assert_close(_matrix_to_band(matrix, window), expected_band, rtol=0, atol=0)


@pytest.mark.parametrize("window", [2, 10])
@pytest.mark.parametrize(("first", "rows", "length"), [(0, 4, 25), (3, 4, 25), (10, 7, 25), (21, 4, 25), (0, 1, 1)])
def test_a_block_of_query_rows_follows_the_definition(first, rows, length, window):
    band, matrix = torch.randn(2, 3, rows, 2 * window + 1), torch.randn(2, 3, rows, length)
    expected_matrix, expected_band = _by_definition(band, matrix, first)
    torch.testing.assert_close(_band_to_matrix(band, first, length), expected_matrix, rtol=0, atol=0)
    torch.testing.assert_close(_matrix_to_band(matrix, window, first), expected_band, rtol=0, atol=0)


def test_attention_in_blocks_of_query_rows_equals_one_block(monkeypatch):
    """A padded batch of 70 frames, in blocks of 16 query rows (the last one 6): the same output as all at once."""
    torch.manual_seed(0)
    layer = RelativeMultiHeadAttention(8, 2).eval()
    x = torch.randn(2, 8, 70)
    x_mask = torch.ones(2, 1, 70)
    x_mask[1, :, 55:] = 0
    attn_mask = x_mask.unsqueeze(2) * x_mask.unsqueeze(-1)
    with torch.no_grad():
        whole = layer(x, attn_mask)
        monkeypatch.setattr(attention, "QUERY_BLOCK_ROWS", 16)
        torch.testing.assert_close(layer(x, attn_mask), whole, rtol=0, atol=1e-6)
