"""Half-precision attention on large activations: the scores are computed in float32, so no inf/NaN."""

from __future__ import annotations

import torch

from rvc.synth.attention import RelativeMultiHeadAttention


def test_half_precision_attention_survives_scores_beyond_fp16_range() -> None:
    torch.manual_seed(0)
    attention = RelativeMultiHeadAttention(192, 2).eval()
    x = torch.randn(1, 192, 50) * 300  # q and k reach thousands, like a full-size model's first layer
    mask = torch.ones(1, 1, 50, 50)
    with torch.no_grad():
        expected = attention(x, mask)
        query, key = attention.conv_q(x).view(1, 2, 96, 50), attention.conv_k(x).view(1, 2, 96, 50)
        assert (query.transpose(2, 3) @ key).abs().max() / 96**0.5 > 65504  # fp16 scores would be inf
        actual = attention.half()(x.half(), mask.half())
    assert torch.isfinite(actual).all()
    error = (actual.float() - expected).abs().max() / expected.abs().max()
    assert error < 0.1, error  # scores in the thousands make softmax near one-hot: fp16 inputs move near-ties
