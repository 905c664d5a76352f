"""Relative positions as a band of offsets: the skews to and from key positions match their definition."""

from __future__ import annotations

import pytest
import torch

from rvc.synth.attention import _band_to_matrix, _matrix_to_band


@pytest.mark.parametrize("window", [2, 10])
@pytest.mark.parametrize("length", [1, 3, 10, 11, 12, 25])
def test_band_and_matrix_follow_the_definition(length, window):
    band = torch.randn(2, 3, length, 2 * window + 1)
    matrix = torch.randn(2, 3, length, length)
    expected_matrix = torch.zeros(2, 3, length, length)
    expected_band = torch.zeros(2, 3, length, 2 * window + 1)
    for i in range(length):
        for offset in range(-window, window + 1):
            if 0 <= i + offset < length:
                expected_matrix[..., i, i + offset] = band[..., i, offset + window]
                expected_band[..., i, offset + window] = matrix[..., i, i + offset]
    torch.testing.assert_close(_band_to_matrix(band), expected_matrix, rtol=0, atol=0)
    torch.testing.assert_close(_matrix_to_band(matrix, window), expected_band, rtol=0, atol=0)
