"""load_embedder against the fairseq reference numbers, and its refusals of bad files."""

from __future__ import annotations

import collections
import json
import os
import typing
from pathlib import Path

import numpy as np
import pytest
import torch

from rvc.embedders import Embedder, EmbedderError, load_embedder
from rvc.embedders.keymap import rename_key
from rvc.embedders.safe_checkpoint import InertStandIn, read_checkpoint
from rvc.weight_rule import rule_state_dict
from tests.conftest import load_reference_json, load_reference_npz
from tests.factories import save_fairseq_checkpoint
from tests.unit.embedders.foreign import ContainerMetadata, DictConfig

ATOL = 1e-4


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    return load_reference_npz("hubert_reference.npz")


@pytest.fixture(scope="module")
def fairseq_state() -> dict[str, torch.Tensor]:
    """The reference weights, in fairseq names and order (SEED 7, SCALE 0.02, +1 on norm gains)."""
    manifest = load_reference_json("hubert_reference.json")
    return rule_state_dict(manifest["keys"], manifest["seed"], manifest["scale"], manifest["plus_one_keys"])


@pytest.fixture(scope="module")
def fp32_file(tmp_path_factory: pytest.TempPathFactory, fairseq_state: dict[str, torch.Tensor]) -> Path:
    return save_fairseq_checkpoint(tmp_path_factory.mktemp("fp32") / "hubert_base.pt", fairseq_state)


@pytest.fixture(scope="module")
def embedder(fp32_file: Path) -> Embedder:
    return load_embedder(fp32_file)


def reference_outputs(model: Embedder, audio: np.ndarray) -> dict[str, np.ndarray]:
    """Our counterparts of the arrays in hubert_reference.npz."""
    with torch.no_grad():
        waveform = torch.from_numpy(audio)[None]
        conv_features = model.feature_extractor(waveform)
        layer9 = model(waveform, output_hidden_states=True).hidden_states[9]
    return {
        "conv_features": conv_features.numpy(),
        "layer9": layer9.numpy(),
        "v1_features": model.extract(audio, "v1").numpy(),
        "v2_features": model.extract(audio, "v2").numpy(),
    }


def test_released_weights_are_read_again_for_the_next_extraction(fp32_file: Path, reference: dict) -> None:
    embedder = load_embedder(fp32_file)
    before = {version: embedder.extract(reference["audio"], version) for version in ("v1", "v2")}
    embedder.release_weights()
    assert all(parameter.is_meta for parameter in embedder.parameters())
    for version, features in before.items():
        torch.testing.assert_close(embedder.extract(reference["audio"], version), features, rtol=0, atol=0)
    assert not any(parameter.is_meta for parameter in embedder.parameters())
    built_in_memory = Embedder(embedder.config)
    built_in_memory.release_weights()  # no file to read it again from: kept
    assert not any(parameter.is_meta for parameter in built_in_memory.parameters())


def test_weights_are_not_released_during_an_extraction(fp32_file: Path, reference: dict) -> None:
    """Another thread's long conversion may release the shared embedder while this one extracts: it waits."""
    embedder = load_embedder(fp32_file)
    with embedder._weights_in_use():
        embedder.release_weights()
        assert not any(parameter.is_meta for parameter in embedder.parameters())


def test_fake_checkpoint_needs_the_globals_of_real_ones(fp32_file: Path) -> None:
    needed = set(torch.serialization.get_unsafe_globals_in_checkpoint(fp32_file))
    assert needed == {"argparse.Namespace", "fairseq.data.dictionary.Dictionary"}


def test_fairseq_checkpoint_matches_fairseq_reference(embedder: Embedder, reference: dict) -> None:
    ours = reference_outputs(embedder, reference["audio"])
    diffs = {name: float(np.abs(ours[name] - reference[name]).max()) for name in ours}
    print("max abs diff vs fairseq:", diffs)
    for name, array in ours.items():
        assert array.shape == reference[name].shape, name
        np.testing.assert_allclose(array, reference[name], rtol=0, atol=ATOL, err_msg=name)


def test_frames_and_accepted_audio_forms(embedder: Embedder, reference: dict) -> None:
    audio = reference["audio"]
    from_numpy = embedder.extract(audio, "v2")
    assert from_numpy.shape == (1, 49, 768) and from_numpy.dtype == torch.float32
    torch.testing.assert_close(
        embedder.extract(torch.from_numpy(audio)[None], "v2"), from_numpy, rtol=0, atol=0
    )
    assert embedder.extract(audio.astype(np.float64)[:400], "v1").shape == (1, 1, 256)


@pytest.mark.parametrize(
    ("audio", "version", "message"),
    [
        (np.zeros(16000, np.float32), "v3", "unknown feature version"),
        (np.zeros(399, np.float32), "v2", "too short"),
        (np.zeros((2, 16000), np.float32), "v2", "mono"),
    ],
)
def test_extract_rejects_bad_requests(
    embedder: Embedder, audio: np.ndarray, version: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        embedder.extract(audio, version)


def test_fp16_checkpoint_computes_in_float32(
    tmp_path: Path, fairseq_state: dict[str, torch.Tensor], reference: dict
) -> None:
    half = {key: value.half() for key, value in fairseq_state.items()}
    model = load_embedder(save_fairseq_checkpoint(tmp_path / "hubert_base.pt", half))
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    features = model.extract(reference["audio"], "v2")
    assert features.dtype == torch.float32
    worst = float(np.abs(features.numpy() - reference["v2_features"]).max())
    print("fp16 weights, max abs diff of v2_features vs fp32 fairseq:", worst)
    assert worst < 5e-2  # only the fp16 rounding of the weights separates them


def test_key_table_matches_reference_manifest() -> None:
    for fairseq_key, _shape, transformers_key in load_reference_json("hubert_base_keys.json"):
        expected = fairseq_key if fairseq_key.startswith("final_proj.") else transformers_key
        assert rename_key(fairseq_key) == expected, fairseq_key


def test_hugging_face_folder_round_trip(tmp_path: Path, embedder: Embedder, reference: dict) -> None:
    embedder.save_pretrained(tmp_path)
    reloaded = load_embedder(tmp_path)
    for version in ("v1", "v2"):
        torch.testing.assert_close(
            reloaded.extract(reference["audio"], version), embedder.extract(reference["audio"], version)
        )


def test_legacy_hugging_face_folder_without_final_proj(
    tmp_path: Path, embedder: Embedder, reference: dict
) -> None:
    """Older transformers saved pos_conv as weight_g/weight_v; without final_proj only v2 is possible."""
    legacy_names = {
        "parametrizations.weight.original0": "weight_g",
        "parametrizations.weight.original1": "weight_v",
    }
    state = {}
    for key, value in embedder.state_dict().items():
        if not key.startswith("final_proj."):
            for new, old in legacy_names.items():
                key = key.replace(new, old)
            state[key] = value
    torch.save(state, tmp_path / "pytorch_model.bin")
    embedder.config.to_json_file(tmp_path / "config.json")
    reloaded = load_embedder(tmp_path)
    assert reloaded.final_proj is None
    torch.testing.assert_close(
        reloaded.extract(reference["audio"], "v2"), embedder.extract(reference["audio"], "v2")
    )
    with pytest.raises(EmbedderError, match="final_proj"):
        reloaded.extract(reference["audio"], "v1")


def test_omegaconf_cfg_is_read_as_inert_stand_ins(tmp_path: Path) -> None:
    metadata = ContainerMetadata(
        ref_type=typing.Any, object_type=dict, resolver_cache=collections.defaultdict(dict)
    )
    cfg = DictConfig({"model": {"_name": "hubert"}}, metadata)
    path = save_fairseq_checkpoint(tmp_path / "cfg.pt", {"x": torch.ones(2)}, cfg=cfg)
    loaded = read_checkpoint(path)
    assert isinstance(loaded["cfg"], InertStandIn) and isinstance(loaded["args"], InertStandIn)
    assert isinstance(loaded["task_state"]["dictionaries"][0], InertStandIn)
    torch.testing.assert_close(loaded["model"]["x"], torch.ones(2))


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_pickle_payload_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "hubert_base.pt"
    torch.save({"model": {"x": torch.ones(1)}, "args": _Payload(marker)}, path)
    with pytest.raises(EmbedderError, match=r"allow-list: posix\.system") as error:
        load_embedder(path)
    assert str(path) in str(error.value)
    assert not marker.exists()


def test_truncated_file(tmp_path: Path) -> None:
    whole = tmp_path / "whole.pt"
    torch.save({"model": {"x": torch.ones(1000)}}, whole)
    cut = tmp_path / "hubert_base.pt"
    cut.write_bytes(whole.read_bytes()[:2000])
    with pytest.raises(EmbedderError, match="not a readable PyTorch file") as error:
        load_embedder(cut)
    assert str(cut) in str(error.value)


def test_text_file_named_pt(tmp_path: Path) -> None:
    path = tmp_path / "hubert_base.pt"
    path.write_text("<html>404 Not Found</html>")
    with pytest.raises(EmbedderError, match="hubert_base.pt: not a readable PyTorch file"):
        load_embedder(path)


def test_wrong_shape_is_named(tmp_path: Path, fairseq_state: dict[str, torch.Tensor]) -> None:
    state = {key: value.half() for key, value in fairseq_state.items()}
    state["encoder.layers.3.fc1.weight"] = torch.zeros(1024, 768, dtype=torch.float16)
    path = save_fairseq_checkpoint(tmp_path / "hubert_large.pt", state)
    with pytest.raises(
        EmbedderError, match=r"wrong shapes: encoder\.layers\.3\.feed_forward\.intermediate_dense"
    ):
        load_embedder(path)


def test_foreign_state_dict_is_not_hubert(tmp_path: Path) -> None:
    path = save_fairseq_checkpoint(tmp_path / "other.pt", {"enc_p.emb_phone.weight": torch.ones(2, 2)})
    with pytest.raises(EmbedderError, match="unexpected keys: enc_p.emb_phone.weight; missing keys"):
        load_embedder(path)


def test_missing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EmbedderError, match="no such embedder file"):
        load_embedder(tmp_path / "nothing.pt")
    monkeypatch.setenv("RVC_HOME", str(tmp_path))
    with pytest.raises(EmbedderError, match="python -m rvc download hubert_base") as error:
        load_embedder()
    assert str(tmp_path / "assets" / "hubert" / "hubert_base.pt") in str(error.value)


def test_folder_of_another_model_type(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "wav2vec2"}))
    with pytest.raises(EmbedderError, match="model_type is 'wav2vec2'"):
        load_embedder(tmp_path)
