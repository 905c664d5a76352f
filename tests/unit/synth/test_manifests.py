"""Every config the ecosystem trains builds a model whose state_dict matches the original key for key."""

from __future__ import annotations

import pytest
import torch

from rvc.synth import Synthesizer, SynthesizerConfig, preset_config
from rvc.synth.checkpoint import TRAINING_ONLY_PREFIX
from tests.conftest import REFERENCE_DIR, load_reference_json

MANIFESTS = sorted(p.stem for p in (REFERENCE_DIR / "synth_manifests").glob("synth_*.json"))


def test_all_twelve_manifests_present():
    assert len(MANIFESTS) == 12


def _meta_state(config: SynthesizerConfig) -> list[list]:
    with torch.device("meta"):
        model = Synthesizer(config)
    return [[key, list(value.shape)] for key, value in model.state_dict().items()]


@pytest.mark.parametrize("name", MANIFESTS)
def test_state_dict_keys_shapes_and_order(name: str):
    manifest = load_reference_json(f"synth_manifests/{name}.json")
    config = SynthesizerConfig.from_list(manifest["config"], manifest["version"], manifest["f0"])
    assert _meta_state(config) == [[key, shape] for key, shape, _ in manifest["keys"]]
    exported = [k for k, _ in _meta_state(config) if not k.startswith(TRAINING_ONLY_PREFIX)]
    assert len(exported) == manifest["n_keys_exported"]


@pytest.mark.parametrize("name", MANIFESTS)
def test_preset_reproduces_stored_config(name: str):
    manifest = load_reference_json(f"synth_manifests/{name}.json")
    config = preset_config(manifest["version"], manifest["sr"], bool(manifest["f0"]))
    assert config.to_list() == manifest["config"]
    assert config.segment_size == manifest["training_segment_size_frames"]
    assert config.hop_length == manifest["hop_length"]
