"""Model tools: info, modify info, merge, extract small model, ONNX export checked by onnxruntime."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from rvc.synth import CheckpointError, load_synthesizer
from rvc.synth.onnx_export import INPUT_NAMES, OnnxGraph, export_onnx, onnx_inputs
from rvc.synth.tools import extract_small_model, merge_models, model_info, modify_info
from tests.factories import tiny_pth


def copy_tiny(tmp_path: Path, name: str = "tiny_v2_f0_40k") -> Path:
    return Path(shutil.copy(tiny_pth(name), tmp_path / f"{name}.pth"))


def test_model_info_and_modify_info(tmp_path):
    path = copy_tiny(tmp_path)
    info = model_info(path)
    assert (info["version"], info["sample_rate"], info["f0"], info["speakers"], info["info"]) == (
        "v2", 40000, True, 4, "1epoch")
    before = torch.load(path, weights_only=True)
    modify_info(path, "my voice, 200 epochs")
    after = torch.load(path, weights_only=True)
    assert after["info"] == "my voice, 200 epochs"
    assert list(after) == list(before) and all(torch.equal(after["weight"][k], v) for k, v in before["weight"].items())


def test_modify_info_refuses_a_training_checkpoint_without_touching_it(tmp_path):
    path = tmp_path / "G_1.pth"
    torch.save({"model": {"x": torch.zeros(1)}, "iteration": 1}, path)
    original = path.read_bytes()
    with pytest.raises(CheckpointError, match="info"):
        modify_info(path, "new")
    assert path.read_bytes() == original


def test_merge_is_the_weighted_mean_and_loads(tmp_path):
    first = copy_tiny(tmp_path)
    second = tmp_path / "other.pth"
    content = torch.load(first, weights_only=True)
    content["weight"] = {k: (v.float() * 0.5).half() for k, v in content["weight"].items()}
    torch.save(content, second)
    out = merge_models(first, second, 0.25, tmp_path / "merged.pth", info="merged")
    merged = torch.load(out, weights_only=True)
    a, b = torch.load(first, weights_only=True)["weight"], content["weight"]
    key = "dec.conv_pre.weight"
    expected = (0.25 * a[key].float() + 0.75 * b[key].float()).half()
    torch.testing.assert_close(merged["weight"][key], expected)
    assert merged["info"] == "merged" and load_synthesizer(out).info.version == "v2"


def test_merge_refuses_different_architectures(tmp_path):
    with pytest.raises(CheckpointError, match="cannot merge"):
        merge_models(copy_tiny(tmp_path), copy_tiny(tmp_path, "tiny_v1_f0_40k"), 0.5, tmp_path / "m.pth")
    assert not (tmp_path / "m.pth").exists()
    with pytest.raises(ValueError, match="alpha"):
        merge_models(copy_tiny(tmp_path), copy_tiny(tmp_path), 1.5, tmp_path / "m.pth")


def test_extract_small_model_from_a_training_checkpoint(tmp_path):
    from tests.unit.synth.test_checkpoint import experiment_json, tiny_rule_weights

    config, state = tiny_rule_weights()
    (tmp_path / "config.json").write_text(json.dumps(experiment_json(config)))
    torch.save({"model": state, "iteration": 10, "optimizer": {}, "learning_rate": 1e-4}, tmp_path / "G_10.pth")
    out = extract_small_model(tmp_path / "G_10.pth", tmp_path / "weights" / "voice.pth")
    content = torch.load(out, weights_only=True)
    assert content["info"] == "Extracted model." and not any(k.startswith("enc_q") for k in content["weight"])
    assert load_synthesizer(out).info.sample_rate == 40000


@pytest.mark.parametrize("name", ["tiny_v2_f0_40k", "tiny_v1_nof0_40k", "tiny_v2_f0_32k"])
def test_onnx_export_matches_pytorch_in_onnxruntime(tmp_path, name):
    model = load_synthesizer(tiny_pth(name))
    path = export_onnx(model, tmp_path / f"{name}.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    accepted = {i.name for i in session.get_inputs()}
    for frames in (8, 20, 150):  # shorter and longer than the relative-attention window, one graph
        inputs = onnx_inputs(model, frames)
        with torch.no_grad():
            expected = OnnxGraph(model)(*inputs).numpy()
        feed = {n: x.numpy() for n, x in zip(INPUT_NAMES, inputs, strict=True) if n in accepted}
        (actual,) = session.run(None, feed)
        assert actual.shape == expected.shape == (1, 1, frames * model.config.hop_length)
        np.testing.assert_allclose(actual, expected, atol=2e-5)
