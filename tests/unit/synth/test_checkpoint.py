"""Checkpoint formats: G_*.pth, small .pth export, weight-norm spellings, and clear errors for bad files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from rvc.synth import CheckpointError, SynthesizerConfig, export_small_model, load_checkpoint, load_synthesizer
from rvc.synth.checkpoint import parametrization_keys, save_training_checkpoint
from rvc.synth.discriminators import MultiPeriodDiscriminator
from rvc.synth.presets import preset_config
from rvc.weight_rule import rule_state_dict
from tests.conftest import REFERENCE_DIR, load_reference_json, load_reference_npz

TINY = "tiny_v2_f0_40k"


def tiny_rule_weights(name: str = TINY) -> tuple[SynthesizerConfig, dict[str, torch.Tensor]]:
    meta = load_reference_json(f"{name}.json")
    config = SynthesizerConfig.from_list(meta["config"], meta["version"], meta["f0"])
    return config, rule_state_dict(meta["keys"], meta["seed"], meta["scale"])


def experiment_json(config: SynthesizerConfig) -> dict:
    """An experiment config.json in the original's train/data/model layout."""
    model_fields = [
        "inter_channels", "hidden_channels", "filter_channels", "n_heads", "n_layers", "kernel_size", "p_dropout",
        "resblock", "resblock_kernel_sizes", "resblock_dilation_sizes", "upsample_rates",
        "upsample_initial_channel", "upsample_kernel_sizes", "gin_channels", "spk_embed_dim",
    ]
    return {
        "train": {"segment_size": config.segment_size * config.hop_length},
        "data": {
            "sampling_rate": config.sample_rate,
            "filter_length": (config.spec_channels - 1) * 2,
            "hop_length": config.hop_length,
        },
        "model": {name: getattr(config, name) for name in model_fields},
    }


def tiny_infer(model) -> np.ndarray:
    arrays = load_reference_npz(f"{TINY}.npz")
    args = [torch.from_numpy(arrays[k]) for k in ("phone", "phone_lengths", "pitch", "nsff0", "sid")]
    return model.infer(*args, noise_scale=0).detach().numpy()


@pytest.fixture()
def g_checkpoint(tmp_path: Path) -> Path:
    config, state = tiny_rule_weights()
    experiment = tmp_path / "logs" / "tiny"
    experiment.mkdir(parents=True)
    (experiment / "config.json").write_text(json.dumps(experiment_json(config)))
    path = experiment / "G_2333.pth"
    torch.save({"model": state, "iteration": 2333, "optimizer": {}, "learning_rate": 1e-4}, path)
    return path


def test_training_checkpoint_uses_config_json_beside_it(g_checkpoint: Path):
    loaded = load_checkpoint(g_checkpoint)
    assert loaded.kind == "training"
    assert "config.json" in loaded.info.source
    info = loaded.info
    assert (info.version, info.sample_rate, info.f0, info.speakers) == ("v2", 40000, True, 4)
    assert any(key.startswith("enc_q.") for key in loaded.state_dict)
    expected = load_reference_npz(f"{TINY}.npz")["infer_out"]
    np.testing.assert_allclose(tiny_infer(load_synthesizer(g_checkpoint)), expected, atol=1e-5, rtol=1e-4)


def test_training_checkpoint_without_config_infers_standard_preset(tmp_path: Path):
    config = preset_config("v1", "48k", f0=False)
    torch.manual_seed(0)
    from rvc.synth import Synthesizer

    path = tmp_path / "G_100.pth"
    torch.save({"model": Synthesizer(config).state_dict(), "iteration": 100}, path)
    loaded = load_checkpoint(path)
    assert loaded.config == config
    assert "inferred" in loaded.info.source
    assert (loaded.info.version, loaded.info.sample_rate, loaded.info.f0) == ("v1", 48000, False)


def test_nonstandard_training_checkpoint_without_config_says_what_to_do(g_checkpoint: Path):
    (g_checkpoint.parent / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json"):
        load_checkpoint(g_checkpoint)


def test_export_matches_original_small_model_format(g_checkpoint: Path, tmp_path: Path):
    out = export_small_model(g_checkpoint, tmp_path / "weights" / "tiny.pth", info="1epoch")
    ours = torch.load(out, weights_only=True)
    reference = torch.load(REFERENCE_DIR / f"{TINY}.pth", weights_only=True)
    assert list(ours) == list(reference) == load_reference_json(f"{TINY}.json")["pth_top_level_keys"]
    assert list(ours["weight"]) == list(reference["weight"])
    for key, value in reference["weight"].items():
        assert ours["weight"][key].dtype == torch.float16
        assert torch.equal(ours["weight"][key], value), key
    for field in ("config", "info", "sr", "f0", "version"):
        assert ours[field] == reference[field], field
    assert not list(tmp_path.glob("weights/.*tmp"))


def test_parametrization_weight_norm_names_load_the_same(tmp_path: Path):
    reference = torch.load(REFERENCE_DIR / f"{TINY}.pth", weights_only=True)
    renamed = dict(reference, weight=parametrization_keys(reference["weight"]))
    assert any(".parametrizations.weight.original0" in key for key in renamed["weight"])
    path = tmp_path / "renamed.pth"
    torch.save(renamed, path)
    expected = load_reference_npz(f"{TINY}.npz")["pth_infer_out"]
    np.testing.assert_allclose(tiny_infer(load_synthesizer(path)), expected, atol=1e-5, rtol=1e-4)


def test_file_without_version_is_v1(tmp_path: Path):
    reference = torch.load(REFERENCE_DIR / "tiny_v1_f0_40k.pth", weights_only=True)
    del reference["version"], reference["f0"]
    path = tmp_path / "old.pth"
    torch.save(reference, path)
    info = load_synthesizer(path).info
    assert (info.version, info.f0) == ("v1", True)


def test_training_checkpoint_round_trip_is_atomic(tmp_path: Path):
    config, state = tiny_rule_weights()
    from rvc.synth import Synthesizer

    model = Synthesizer(config)
    model.load_state_dict(state)
    optimizer = torch.optim.AdamW(model.parameters(), 1e-4)
    path = save_training_checkpoint(tmp_path / "G_7.pth", model, optimizer, 1e-4, 7)
    content = torch.load(path, weights_only=True)
    assert list(content) == ["model", "iteration", "optimizer", "learning_rate"]
    assert content["iteration"] == 7 and list(content["model"]) == list(state)
    assert [p.name for p in tmp_path.iterdir()] == ["G_7.pth"]


# --- broken files: each gets a CheckpointError naming the file and the problem ---------------------------


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_missing_file(tmp_path: Path):
    with pytest.raises(CheckpointError, match="not found") as error:
        load_synthesizer(tmp_path / "nothing.pth")
    assert "nothing.pth" in str(error.value)


def test_empty_file(tmp_path: Path):
    with pytest.raises(CheckpointError, match="empty"):
        load_synthesizer(write_bytes(tmp_path / "empty.pth", b""))


def test_text_file_named_pth(tmp_path: Path):
    with pytest.raises(CheckpointError, match="not a readable PyTorch file") as error:
        load_synthesizer(write_bytes(tmp_path / "voice.pth", b"this is a text file\n" * 20))
    assert "voice.pth" in str(error.value)


def test_truncated_file(tmp_path: Path):
    data = (REFERENCE_DIR / f"{TINY}.pth").read_bytes()
    with pytest.raises(CheckpointError, match="truncated"):
        load_synthesizer(write_bytes(tmp_path / "cut.pth", data[: len(data) // 2]))


def test_discriminator_checkpoint_is_named_as_such(tmp_path: Path):
    with torch.device("meta"):
        discriminator = MultiPeriodDiscriminator("v2")
    state = {k: torch.zeros(1) for k in discriminator.state_dict()}
    path = tmp_path / "D_100.pth"
    torch.save({"model": state, "iteration": 100}, path)
    with pytest.raises(CheckpointError, match="discriminator checkpoint"):
        load_synthesizer(path)


def test_weights_that_do_not_fit_the_config(tmp_path: Path):
    reference = torch.load(REFERENCE_DIR / f"{TINY}.pth", weights_only=True)
    reference["config"][3] = 16  # hidden_channels 8 -> 16
    path = tmp_path / "mismatch.pth"
    torch.save(reference, path)
    with pytest.raises(CheckpointError, match="do not fit") as error:
        load_synthesizer(path)
    assert "needs" in str(error.value) and "mismatch.pth" in str(error.value)


def test_missing_and_unexpected_keys(tmp_path: Path):
    reference = torch.load(REFERENCE_DIR / f"{TINY}.pth", weights_only=True)
    reference["weight"]["bogus.weight"] = reference["weight"].pop("dec.conv_post.weight")
    path = tmp_path / "keys.pth"
    torch.save(reference, path)
    with pytest.raises(CheckpointError, match="missing dec.conv_post.weight.*unexpected bogus.weight"):
        load_synthesizer(path)


@pytest.mark.parametrize("content", [{"foo": 1}, [1, 2, 3], {"weight": [1], "config": []}])
def test_not_an_rvc_model(tmp_path: Path, content):
    path = tmp_path / "other.pth"
    torch.save(content, path)
    with pytest.raises(CheckpointError):
        load_synthesizer(path)


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickled_code_is_refused_and_never_runs(tmp_path: Path):
    marker = tmp_path / "pwned"
    reference = torch.load(REFERENCE_DIR / f"{TINY}.pth", weights_only=True)
    reference["info"] = Payload(marker)
    path = tmp_path / "evil.pth"
    torch.save(reference, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_synthesizer(path)
    assert not marker.exists()
