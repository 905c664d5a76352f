"""Foreign checkpoint key names -> the names of transformers' ``HubertModel``, as data.

The ecosystem's ``hubert_base.pt`` is a fairseq checkpoint, and Hugging Face folders saved by older
transformers keep the legacy weight-norm names. The rules follow transformers'
``convert_hubert_original_pytorch_checkpoint_to_pytorch.py`` (not fine-tuned) and the key table in
``shared/reference/README.md``. They are applied in order, each to the result of the previous one, so
``encoder.pos_conv.0.weight_g`` first becomes ``encoder.pos_conv_embed.conv.weight_g`` and then the
parametrized weight-norm name that current transformers (torch parametrizations) expects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

Value = TypeVar("Value")

# (pattern, replacement); a replacement of None drops the key (pre-training only, unused for features).
KEY_RULES: tuple[tuple[str, str | None], ...] = (
    (r"^label_embs_concat$", None),
    (r"^mask_emb$", "masked_spec_embed"),
    (r"^feature_extractor\.conv_layers\.(\d+)\.0\.", r"feature_extractor.conv_layers.\1.conv."),
    (r"^feature_extractor\.conv_layers\.0\.2\.", "feature_extractor.conv_layers.0.layer_norm."),
    (r"^layer_norm\.", "feature_projection.layer_norm."),
    (r"^post_extract_proj\.", "feature_projection.projection."),
    (r"^encoder\.pos_conv\.0\.", "encoder.pos_conv_embed.conv."),
    (r"^encoder\.layers\.(\d+)\.self_attn\.", r"encoder.layers.\1.attention."),
    (r"^encoder\.layers\.(\d+)\.self_attn_layer_norm\.", r"encoder.layers.\1.layer_norm."),
    (r"^encoder\.layers\.(\d+)\.fc1\.", r"encoder.layers.\1.feed_forward.intermediate_dense."),
    (r"^encoder\.layers\.(\d+)\.fc2\.", r"encoder.layers.\1.feed_forward.output_dense."),
    # Legacy torch weight norm (fairseq, transformers before parametrizations).
    (r"^(encoder\.pos_conv_embed\.conv\.)weight_g$", r"\1parametrizations.weight.original0"),
    (r"^(encoder\.pos_conv_embed\.conv\.)weight_v$", r"\1parametrizations.weight.original1"),
)

_COMPILED_RULES = tuple((re.compile(pattern), replacement) for pattern, replacement in KEY_RULES)


def rename_key(key: str) -> str | None:
    """Return the transformers name of ``key``, or None when the key is dropped."""
    for pattern, replacement in _COMPILED_RULES:
        if pattern.search(key):
            if replacement is None:
                return None
            key = pattern.sub(replacement, key)
    return key


def rename_keys(state: Mapping[str, Value]) -> dict[str, Value]:
    """Apply :func:`rename_key` to every key of ``state``; names already in transformers form pass through."""
    renamed: dict[str, Value] = {}
    for key, value in state.items():
        new_key = rename_key(key)
        if new_key is not None:
            renamed[new_key] = value
    return renamed
