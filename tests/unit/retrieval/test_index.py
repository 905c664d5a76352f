"""Loading, searching and blending against the faiss example recorded from the original pipeline."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest
import torch

from rvc.retrieval import (
    IndexFileError,
    IndexMismatchError,
    RetrievalIndex,
    apply_protect,
    load_index,
    neighbour_weights,
    prepare_features,
)
from tests.conftest import REFERENCE_DIR, load_reference_npz

INDEX_FILE = REFERENCE_DIR / "added_IVF51_Flat_nprobe_1_example_v2.index"
FLT_MAX = np.finfo(np.float32).max


@pytest.fixture(scope="module")
def example() -> dict[str, np.ndarray]:
    return load_reference_npz("index_example.npz")


@pytest.fixture(scope="module")
def index() -> RetrievalIndex:
    return load_index(INDEX_FILE)


def test_load_keeps_file_settings_and_vectors(index: RetrievalIndex, example: dict) -> None:
    assert index.index.ntotal == 2000 and index.dim == 768
    assert faiss.extract_index_ivf(index.index).nprobe == 1
    np.testing.assert_array_equal(index.vectors, example["vectors"][example["shuffle_perm"]])


def test_search_weights_blend_and_mix(index: RetrievalIndex, example: dict) -> None:
    queries = example["queries"]
    distances, ids = index.search(queries)
    np.testing.assert_array_equal(ids, example["search_I"])  # includes the two -1 of query 1
    np.testing.assert_allclose(distances, example["search_D"], rtol=1e-5)
    weight = neighbour_weights(distances)
    assert weight.dtype == np.float32 and np.all(weight[1, 6:] == 0)
    np.testing.assert_allclose(weight, example["weight"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(index.retrieve(queries), example["blended"], rtol=0, atol=1e-5)
    mixed = index.blend(queries, float(example["index_rate"]))
    np.testing.assert_allclose(mixed, example["mixed"], rtol=0, atol=1e-5)


def test_index_rate_zero_returns_input_without_search(
    index: RetrievalIndex, example: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index, "search", _no_search)
    assert index.blend(example["queries"], 0.0) is example["queries"]


def _no_search(features: np.ndarray) -> None:
    raise AssertionError("searched")


def test_weights_at_the_limits() -> None:
    distances = np.array([[0.0, 0.0, 4.0], [FLT_MAX, FLT_MAX, FLT_MAX], [1.0, 2.0, FLT_MAX]], np.float32)
    weight = neighbour_weights(distances)
    np.testing.assert_array_equal(weight[0], [0.5, 0.5, 0.0])  # exact matches take everything
    np.testing.assert_array_equal(weight[1], [0.0, 0.0, 0.0])  # no neighbour: nothing
    np.testing.assert_allclose(weight[2], [0.8, 0.2, 0.0], rtol=1e-6)


def test_frame_without_neighbours_keeps_itself(tmp_path: Path) -> None:
    """With nprobe 1, a query whose IVF cell is empty gets only -1 ids."""
    rng = np.random.default_rng(0)
    near_a = rng.normal(size=(50, 4)).astype(np.float32)
    near_b = near_a + 100
    ivf = faiss.index_factory(4, "IVF2,Flat")
    ivf.train(np.concatenate([near_a, near_b]))
    ivf.add(near_a)
    index = RetrievalIndex(ivf, tmp_path / "two_cells.index")
    queries = np.stack([near_a[0] + 0.01, near_b[0]])
    assert np.all(index.search(queries)[1][1] == -1)
    retrieved = index.retrieve(queries)
    np.testing.assert_array_equal(retrieved[1], queries[1])
    assert np.abs(retrieved[0] - near_a[0]).max() < 0.1


def test_dimension_mismatch_is_named_before_searching(
    index: RetrievalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index.index, "search", _no_search)
    with pytest.raises(IndexMismatchError, match=r"768-d features but the model gives 256-d") as error:
        index.blend(np.zeros((3, 256), np.float32), 0.75)
    assert INDEX_FILE.name in str(error.value)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.index", None, "cannot read the index file"),
        ("notes.index", b"# not an index\n", "not a faiss index"),
        ("empty.index", b"", "not a faiss index"),
    ],
)
def test_unusable_files_are_named(tmp_path: Path, name: str, content: bytes | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(IndexFileError, match=message) as error:
        load_index(path)
    assert str(path) in str(error.value)


def test_trained_only_index_is_refused(tmp_path: Path) -> None:
    trained = faiss.index_factory(4, "IVF1,Flat")
    trained.train(np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32))
    path = tmp_path / "trained_IVF1_Flat_nprobe_1_x_v2.index"
    faiss.write_index(trained, str(path))
    with pytest.raises(IndexFileError, match="holds no vectors"):
        load_index(path)


@pytest.mark.parametrize(
    ("array", "index_rate", "protect"),
    [
        ("vc_feats_protect0.5", 0.75, 0.5),
        ("vc_feats_protect0.33", 0.75, 0.33),
        ("vc_feats_indexrate0", 0.0, 0.5),
    ],
)
def test_prepare_features_matches_pipeline(
    index: RetrievalIndex, example: dict, array: str, index_rate: float, protect: float
) -> None:
    features = torch.from_numpy(example["queries"])[None]
    pitchf = torch.from_numpy(example["vc_pitchf"])
    prepared, p_len = prepare_features(features, pitchf.shape[1], index, index_rate, pitchf, protect)
    assert p_len == int(example["vc_p_len"][0])
    assert prepared.shape == (1, *example[array].shape)
    np.testing.assert_allclose(prepared[0].numpy(), example[array], rtol=0, atol=1e-5)


def test_prepare_features_without_index_or_pitch_only_repeats() -> None:
    features = torch.arange(6, dtype=torch.float32).reshape(1, 3, 2)
    prepared, p_len = prepare_features(features, audio_frames=5, protect=0.33)
    assert p_len == 5
    torch.testing.assert_close(prepared, features.repeat_interleave(2, dim=1)[:, :5])


def test_apply_protect_mixes_only_unvoiced_frames() -> None:
    after = torch.ones(1, 3, 2)
    before = torch.zeros(1, 3, 2)
    pitchf = torch.tensor([[0.0, 0.5, 220.0]])
    out = apply_protect(after, before, pitchf, 0.25)
    torch.testing.assert_close(out[0, :, 0], torch.tensor([0.25, 0.25, 1.0]))
