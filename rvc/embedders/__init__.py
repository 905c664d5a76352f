"""HuBERT / ContentVec content features for RVC (transformers' ``HubertModel``, fairseq checkpoints too).

``load_embedder(path, device, dtype)`` reads the ecosystem's fairseq ``hubert_base.pt`` safely or a
Hugging Face folder; ``embedder.extract(audio_16k, version)`` returns [1, frames, 256 | 768].
"""

from rvc.embedders.errors import EmbedderError
from rvc.embedders.load import default_embedder_path, load_embedder
from rvc.embedders.model import MIN_SAMPLES, SAMPLE_RATE_HZ, Embedder

__all__ = [
    "MIN_SAMPLES",
    "SAMPLE_RATE_HZ",
    "Embedder",
    "EmbedderError",
    "default_embedder_path",
    "load_embedder",
]
