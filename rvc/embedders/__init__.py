"""HuBERT / ContentVec content features for RVC (transformers' ``HubertModel``, fairseq checkpoints too).

``load_embedder(path, device, dtype)`` reads the ecosystem's fairseq ``hubert_base.pt`` safely or a
Hugging Face folder; ``embedder.extract(audio_16k, version)`` returns [1, frames, 256 | 768].

Importing transformers takes seconds, so everything here but the error type is imported on first use: a process
that converts is ready as soon as its voice model is, while HuBERT loads in the background
(`rvc.service.Converter`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from rvc.embedders.errors import EmbedderError

if TYPE_CHECKING:
    from rvc.embedders.load import default_embedder_path, load_embedder
    from rvc.embedders.model import MIN_SAMPLES, SAMPLE_RATE_HZ, Embedder

_LAZY = {
    "MIN_SAMPLES": "model",
    "SAMPLE_RATE_HZ": "model",
    "Embedder": "model",
    "default_embedder_path": "load",
    "load_embedder": "load",
}

__all__ = ["MIN_SAMPLES", "SAMPLE_RATE_HZ", "Embedder", "EmbedderError", "default_embedder_path", "load_embedder"]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
