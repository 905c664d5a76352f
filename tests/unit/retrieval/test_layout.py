"""The faiss layout reader accepts every index RVC and faiss write of the types RVC reads, agreeing with faiss on
what they hold, and refuses every damaged one with its own error (the hostile ones: tests/unit/hardening)."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from rvc.retrieval import IndexLayoutError, build_index, read_layout
from tests.conftest import REFERENCE_DIR

RNG = np.random.default_rng(0)


def _vectors(rows: int, dim: int) -> np.ndarray:
    return RNG.normal(size=(rows, dim)).astype(np.float32)


def _written(index: faiss.Index, path: Path) -> Path:
    faiss.serialize_index(index).tofile(path)
    return path


def _ivf(spec: str, dim: int, rows: int, added: int, metric: int = faiss.METRIC_L2) -> faiss.Index:
    index = faiss.index_factory(dim, spec, metric)
    vectors = _vectors(rows, dim)
    index.train(vectors)
    index.add(vectors[:added])
    return index


def _agrees(path: Path) -> None:
    layout = read_layout(path)
    index = faiss.read_index(str(path))
    assert (layout.dim, layout.ntotal) == (index.d, index.ntotal)
    if layout.nlist is not None:
        assert layout.nlist == faiss.extract_index_ivf(index).nlist


@pytest.mark.parametrize(("spec", "dim", "rows", "added", "metric"), [
    ("IVF256,Flat", 256, 10_000, 10_000, faiss.METRIC_L2),  # RVC's list count for summarised big datasets
    ("IVF51,Flat", 768, 2000, 2000, faiss.METRIC_L2),
    ("IVF1,Flat", 768, 100, 100, faiss.METRIC_L2),
    ("IVF64,Flat", 256, 2500, 20, faiss.METRIC_L2),  # most lists empty: faiss stores the sizes sparse
    ("IVF16,Flat", 256, 700, 0, faiss.METRIC_L2),  # trained only (the trained_* file)
    ("IVF16,Flat", 256, 700, 700, faiss.METRIC_INNER_PRODUCT),
    ("Flat", 768, 0, 50, faiss.METRIC_L2),
    ("Flat", 256, 0, 0, faiss.METRIC_L2),
    ("Flat", 768, 0, 50, faiss.METRIC_INNER_PRODUCT),
    ("Flat", 32, 0, 10, faiss.METRIC_L1),  # another metric: its argument follows the header
])
def test_what_faiss_writes_is_read(tmp_path: Path, spec: str, dim: int, rows: int, added: int, metric: int):
    if spec == "Flat":
        index = faiss.index_factory(dim, "Flat", metric)
        index.add(_vectors(added, dim))
    else:
        index = _ivf(spec, dim, rows, added, metric)
    _agrees(_written(index, tmp_path / "written.index"))


@pytest.mark.parametrize("direct_map", [faiss.DirectMap.Array, faiss.DirectMap.Hashtable])
def test_an_ivf_index_with_a_direct_map_is_read(tmp_path: Path, direct_map: int):
    index = _ivf("IVF8,Flat", 32, 400, 400)
    faiss.extract_index_ivf(index).set_direct_map_type(direct_map)
    _agrees(_written(index, tmp_path / "mapped.index"))


def test_what_rvc_builds_is_read(tmp_path: Path):
    (tmp_path / "features").mkdir()
    np.save(tmp_path / "features" / "a.npy", _vectors(3000, 768))
    built = build_index(tmp_path / "features", tmp_path / "out", "voice", "v2", rng=np.random.default_rng(1))
    for path in (built.trained_path, built.added_path):
        _agrees(path)
    assert read_layout(built.added_path).nlist == built.n_ivf


def test_the_reference_index_is_read():
    _agrees(REFERENCE_DIR / "added_IVF51_Flat_nprobe_1_example_v2.index")


@pytest.fixture(scope="module")
def small_index() -> bytes:
    return faiss.serialize_index(_ivf("IVF4,Flat", 8, 200, 60)).tobytes()


def test_every_cut_of_an_index_is_refused(tmp_path: Path, small_index: bytes):
    path = tmp_path / "cut.index"
    for length in range(len(small_index)):
        path.write_bytes(small_index[:length])
        with pytest.raises(IndexLayoutError):
            read_layout(path)


def test_any_changed_count_is_read_or_refused_never_trusted(tmp_path: Path, small_index: bytes):
    """Each 8-byte field of the header region set to a huge value: refused, or (a float changed) read."""
    path = tmp_path / "changed.index"
    for offset in range(0, 400, 4):
        changed = bytearray(small_index)
        changed[offset:offset + 8] = (2**40 + offset).to_bytes(8, "little")
        path.write_bytes(bytes(changed))
        try:
            layout = read_layout(path)
        except IndexLayoutError:
            continue
        assert layout.ntotal == 60 and layout.dim == 8
