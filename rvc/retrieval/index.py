"""A faiss ``.index`` of training features, and the neighbour blending RVC applies at inference.

Blending pulls each HuBERT frame towards the training speaker's own frames, which reduces timbre
leakage from the source voice. The arithmetic follows ``Pipeline.vc`` of the original exactly, in
float32, including faiss's "no neighbour" answer (id -1, distance FLT_MAX), whose weight underflows
to 0.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import faiss
import numpy as np

from rvc.retrieval.errors import IndexFileError, IndexMismatchError
from rvc.retrieval.layout import IndexLayoutError, read_layout

NEIGHBOURS = 8
# faiss prefixes its messages with the C++ function and source line that raised them.
FAISS_SOURCE_LOCATION = re.compile(r"^Error in .*? at \S+:\d+: ", re.DOTALL)


def neighbour_weights(distances: np.ndarray) -> np.ndarray:
    """Per-row weights ``(1/D)^2`` normalised to sum 1, from squared L2 distances [frames, k] (float32).

    Two rows the original turns into NaN get their limit instead: an exact match (D = 0) takes all
    the weight (shared among exact matches), and a row with no neighbour at all gets weights 0.
    """
    with np.errstate(divide="ignore"):
        weight = np.square(1 / distances)
    exact = np.isinf(weight)
    has_exact = exact.any(axis=1)
    weight[has_exact] = exact[has_exact]
    total = weight.sum(axis=1, keepdims=True)
    return np.divide(weight, total, out=np.zeros_like(weight), where=total > 0)


class RetrievalIndex:
    """A loaded index plus all its vectors (``big_npy``), reconstructed once since every search needs them."""

    def __init__(self, index: faiss.Index, path: Path) -> None:
        if index.ntotal == 0:
            raise IndexFileError(
                f"{path}: the index holds no vectors (a trained_* file? use the added_* one)"
            )
        self.index = index
        self.path = path
        self.vectors = index.reconstruct_n(0, index.ntotal)

    @property
    def dim(self) -> int:
        return self.index.d

    def check_dim(self, dim: int) -> None:
        """Raise :class:`IndexMismatchError` unless features of width ``dim`` can be searched here."""
        if dim != self.dim:
            raise IndexMismatchError(
                f"{self.path}: the index holds {self.dim}-d features but the model gives {dim}-d ones "
                "(v1 models use 256-d indexes, v2 models 768-d ones)"
            )

    def search(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Squared L2 distances and ids [frames, 8] of the nearest stored vectors (the file's nprobe)."""
        self.check_dim(features.shape[-1])
        return self.index.search(np.ascontiguousarray(features, dtype=np.float32), NEIGHBOURS)

    def retrieve(self, features: np.ndarray) -> np.ndarray:
        """The weighted mean of each frame's neighbours [frames, dim]; a frame without any keeps itself."""
        distances, ids = self.search(features)
        weight = neighbour_weights(distances)
        retrieved = np.sum(self.vectors[ids] * np.expand_dims(weight, axis=2), axis=1)
        lonely = ~weight.any(axis=1)
        retrieved[lonely] = features[lonely]
        return retrieved

    def blend(self, features: np.ndarray, index_rate: float) -> np.ndarray:
        """``retrieved * index_rate + (1 - index_rate) * features`` for float32 features [frames, dim].

        ``index_rate`` 0 returns ``features`` itself without searching, as the original skips the index.
        """
        if index_rate == 0:
            return features
        return self.retrieve(features) * index_rate + (1 - index_rate) * features


def load_index(path: str | os.PathLike[str]) -> RetrievalIndex:
    """Read a faiss ``.index`` file; raise :class:`IndexFileError` naming it if that is impossible.

    The layout is checked against the file's size first (`rvc.retrieval.layout`): faiss allocates whatever
    counts a file declares. The bytes are read by Python and deserialised, because faiss's own file reader
    cannot open non-ASCII paths on Windows, and many users' folders have Chinese names.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise IndexFileError(f"{path}: not a faiss index: the file is empty (0 bytes)")
        read_layout(path)
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise IndexFileError(f"{path}: cannot read the index file: {exc}") from exc
    except IndexLayoutError as exc:
        raise IndexFileError(f"{path}: not a faiss index: {exc}") from exc
    try:
        index = faiss.deserialize_index(data)
    except RuntimeError as exc:
        reason = FAISS_SOURCE_LOCATION.sub("", str(exc)).strip()
        if "read error" in reason:  # faiss's reader ran out of bytes: "read error in : 4902 != 156672"
            reason = "the file ends before the index does (truncated)"
        raise IndexFileError(f"{path}: not a faiss index: {reason}") from exc
    return RetrievalIndex(index, path)
