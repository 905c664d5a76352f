"""Build a faiss index from a training run's HuBERT features, the way RVC's train-index step does.

Files and names match the original (``trained_IVF…`` after training, ``added_IVF…`` once the
vectors are in, ``total_fea.npy`` with the vectors used), so indexes built here and there are
interchangeable.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from rvc.retrieval.errors import IndexMismatchError

FEATURE_DIMS = {"v1": 256, "v2": 768}
KMEANS_ABOVE_ROWS = 200_000  # more rows than this are summarised by k-means centres first
KMEANS_CENTRES = 10_000
ADD_BATCH_ROWS = 8192
NPROBE = 1


@dataclass(frozen=True)
class BuiltIndex:
    """What :func:`build_index` wrote: both files, the IVF list count and the number of stored vectors."""

    trained_path: Path
    added_path: Path  # the usable index
    n_ivf: int
    ntotal: int


def n_ivf_for(rows: int) -> int:
    """IVF list count: ``min(int(16 * sqrt(N)), N // 39)``, at least 1 (the 2026 original's guard)."""
    return max(1, min(int(16 * math.sqrt(rows)), rows // 39))


def load_features(
    feature_files_or_dir: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> np.ndarray:
    """Concatenate ``.npy`` feature files [frames, dim], in sorted name order, as float32 rows."""
    if isinstance(feature_files_or_dir, str | os.PathLike):
        folder = Path(feature_files_or_dir)
        paths = sorted(folder.glob("*.npy"))
        source = folder
    else:
        paths = sorted((Path(p) for p in feature_files_or_dir), key=lambda p: p.name)
        source = "the given list"
    if not paths:
        raise FileNotFoundError(f"no .npy feature files in {source}; extract features first")
    return np.concatenate([np.load(path) for path in paths], axis=0).astype(np.float32, copy=False)


def build_index(
    feature_files_or_dir: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    exp_name: str,
    version: str,
    n_cpu: int = 1,
    rng: np.random.Generator | None = None,
) -> BuiltIndex:
    """Write ``trained_…`` and ``added_IVF{n}_Flat_nprobe_1_{exp_name}_{version}.index`` to ``out_dir``.

    Rows are shuffled (``rng``, unseeded by default as in the original) before training; over
    200,000 rows are replaced by 10,000 MiniBatchKMeans centres (batch 256 * ``n_cpu``).
    """
    if version not in FEATURE_DIMS:
        raise ValueError(f"unknown version {version!r}; expected one of {sorted(FEATURE_DIMS)}")
    rng = rng if rng is not None else np.random.default_rng()
    dim = FEATURE_DIMS[version]
    vectors = load_features(feature_files_or_dir)
    if vectors.shape[1] != dim:
        raise IndexMismatchError(
            f"{version} indexes hold {dim}-d features, but the feature files are {vectors.shape[1]}-d"
        )
    vectors = vectors[rng.permutation(len(vectors))]
    if len(vectors) > KMEANS_ABOVE_ROWS:
        from sklearn.cluster import MiniBatchKMeans  # 1-2 s to import: only big datasets need it, never a conversion

        kmeans = MiniBatchKMeans(
            n_clusters=KMEANS_CENTRES,
            batch_size=256 * n_cpu,
            compute_labels=False,
            init="random",
            random_state=int(rng.integers(2**31)),
        )
        vectors = kmeans.fit(vectors).cluster_centers_.astype(np.float32)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / "total_fea.npy", vectors)

    n_ivf = n_ivf_for(len(vectors))
    index = faiss.index_factory(dim, f"IVF{n_ivf},Flat")
    faiss.extract_index_ivf(index).nprobe = NPROBE
    index.train(vectors)
    suffix = f"IVF{n_ivf}_Flat_nprobe_{NPROBE}_{exp_name}_{version}.index"
    trained_path = _write(index, out_dir / f"trained_{suffix}")
    for start in range(0, len(vectors), ADD_BATCH_ROWS):
        index.add(vectors[start : start + ADD_BATCH_ROWS])
    added_path = _write(index, out_dir / f"added_{suffix}")
    return BuiltIndex(trained_path, added_path, n_ivf, index.ntotal)


def _write(index: faiss.Index, path: Path) -> Path:
    """Serialise through Python, as ``load_index`` reads, so non-ASCII paths work on Windows too."""
    faiss.serialize_index(index).tofile(path)
    return path
