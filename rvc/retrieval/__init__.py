"""faiss retrieval: build an index of training features, load it, and blend inference features with it.

``load_index(path).blend(features, index_rate)`` mixes HuBERT frames with their nearest training frames;
``prepare_features`` runs blend, 2x repeat and ``protect`` in the original pipeline's order.
"""

from rvc.retrieval.build import BuiltIndex, build_index, n_ivf_for
from rvc.retrieval.discovery import find_index_for_model, list_indexes
from rvc.retrieval.errors import IndexFileError, IndexMismatchError
from rvc.retrieval.features import apply_protect, prepare_features
from rvc.retrieval.index import RetrievalIndex, load_index, neighbour_weights
from rvc.retrieval.layout import IndexLayout, IndexLayoutError, read_layout

__all__ = [
    "BuiltIndex",
    "IndexFileError",
    "IndexLayout",
    "IndexLayoutError",
    "IndexMismatchError",
    "RetrievalIndex",
    "apply_protect",
    "build_index",
    "find_index_for_model",
    "list_indexes",
    "load_index",
    "n_ivf_for",
    "neighbour_weights",
    "prepare_features",
    "read_layout",
]
