"""build_index follows the original train-index step; find/list follow its naming rules."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from rvc.retrieval import IndexMismatchError, build_index, find_index_for_model, list_indexes, load_index
from rvc.retrieval import build as build_module
from rvc.retrieval.build import n_ivf_for


def write_features(folder: Path, rows: int = 500, dim: int = 256) -> list[np.ndarray]:
    """Three files written out of name order, to check the sorted concatenation."""
    rng = np.random.default_rng(3)
    arrays = {name: rng.normal(size=(rows, dim)).astype(np.float32) for name in ("b.npy", "c.npy", "a.npy")}
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        np.save(folder / name, array)
    return [arrays[name] for name in sorted(arrays)]


@pytest.mark.parametrize(("rows", "n_ivf"), [(1500, 38), (2000, 51), (10, 1), (40_000, 1025), (10_000, 256)])
def test_n_ivf_rule(rows: int, n_ivf: int) -> None:
    assert n_ivf_for(rows) == n_ivf


def test_build_index_like_the_original(tmp_path: Path) -> None:
    arrays = write_features(tmp_path / "3_feature256")
    built = build_index(
        tmp_path / "3_feature256", tmp_path / "exp", "exp", "v1", rng=np.random.default_rng(5)
    )
    assert built.n_ivf == 38 and built.ntotal == 1500
    assert built.trained_path.name == "trained_IVF38_Flat_nprobe_1_exp_v1.index"
    assert built.added_path.name == "added_IVF38_Flat_nprobe_1_exp_v1.index"
    assert faiss.read_index(str(built.trained_path)).ntotal == 0
    added = load_index(built.added_path)
    assert added.index.ntotal == 1500 and faiss.extract_index_ivf(added.index).nprobe == 1
    shuffled = np.concatenate(arrays)[np.random.default_rng(5).permutation(1500)]
    np.testing.assert_array_equal(np.load(tmp_path / "exp" / "total_fea.npy"), shuffled)
    np.testing.assert_array_equal(np.sort(added.vectors, axis=0), np.sort(shuffled, axis=0))


def test_many_rows_become_kmeans_centres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_module, "KMEANS_ABOVE_ROWS", 1000)
    monkeypatch.setattr(build_module, "KMEANS_CENTRES", 80)
    files = [str(tmp_path / name) for name in ("b.npy", "c.npy", "a.npy")]
    write_features(tmp_path, dim=768)
    built = build_index(files, tmp_path / "exp", "many", "v2", n_cpu=2, rng=np.random.default_rng(0))
    assert np.load(tmp_path / "exp" / "total_fea.npy").shape == (80, 768)
    assert built.ntotal == 80 and built.n_ivf == n_ivf_for(80) == 2
    assert built.added_path.name == "added_IVF2_Flat_nprobe_1_many_v2.index"


def test_version_and_feature_width_must_agree(tmp_path: Path) -> None:
    write_features(tmp_path / "feats", rows=50)
    with pytest.raises(
        IndexMismatchError, match="v2 indexes hold 768-d features, but the feature files are 256-d"
    ):
        build_index(tmp_path / "feats", tmp_path / "exp", "exp", "v2")


def test_unknown_version(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown version 'v3'"):
        build_index(tmp_path, tmp_path / "exp", "exp", "v3")


def test_no_features(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="extract features first"):
        build_index(tmp_path, tmp_path / "exp", "exp", "v1")


@pytest.fixture
def index_tree(tmp_path: Path) -> Path:
    names = [
        "logs/alice/trained_IVF38_Flat_nprobe_1_alice_v2.index",
        "logs/alice/added_IVF38_Flat_nprobe_1_alice_v2.index",
        "indices/alice_IVF38_Flat_nprobe_1_alice_v2.index",
        "indices/bob/any_name.index",
        "indices/bob/notes.txt",
    ]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    return tmp_path


def test_list_indexes_skips_trained(index_tree: Path) -> None:
    assert [p.relative_to(index_tree).as_posix() for p in list_indexes(index_tree)] == [
        "indices/alice_IVF38_Flat_nprobe_1_alice_v2.index",
        "indices/bob/any_name.index",
        "logs/alice/added_IVF38_Flat_nprobe_1_alice_v2.index",
    ]


def test_find_index_for_model(index_tree: Path) -> None:
    found = find_index_for_model("assets/weights/alice.pth", index_tree / "logs")
    assert found == index_tree / "logs/alice/added_IVF38_Flat_nprobe_1_alice_v2.index"
    assert (
        find_index_for_model("alice.pth", index_tree)
        == index_tree / "indices/alice_IVF38_Flat_nprobe_1_alice_v2.index"
    )
    assert find_index_for_model("bob", index_tree) == index_tree / "indices/bob/any_name.index"
    assert find_index_for_model("carol.pth", index_tree) is None
