"""A synthesizer file's fields besides its weights: the ecosystem's shapes are read, anything else is refused by
name, and nothing untrusted is stringified."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from rvc.synth import CheckpointError, load_checkpoint
from rvc.synth.metadata import INFO_CUT_MARK, MAX_INFO_CHARS, small_model_fields
from rvc.synth.tools import model_info, modify_info
from tests.conftest import REFERENCE_DIR
from tests.factories import tiny_pth

TINY = tiny_pth("tiny_v2_f0_40k")


@pytest.fixture(scope="module")
def tiny() -> dict:
    return torch.load(TINY, weights_only=True)


@pytest.mark.parametrize("path", sorted(REFERENCE_DIR.rglob("*.pth")), ids=lambda path: path.name)
def test_every_reference_model_reads(path: Path):
    """The original's small models and Applio's (sr as a number, f0 a bool, no info, more keys)."""
    content = torch.load(path, weights_only=True)
    fields = small_model_fields(content)
    assert fields.version == content["version"] and fields.config == list(content["config"])
    assert fields.info == str(content.get("info", ""))


def test_a_long_info_is_cut_and_marked(tmp_path: Path, tiny: dict):
    path = tmp_path / "long.pth"
    torch.save({**tiny, "info": "a" * 1_000_000}, path)
    info = model_info(path)["info"]
    assert info == "a" * MAX_INFO_CHARS + INFO_CUT_MARK


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("info", {"text": "hi"}, "'info' is a dict of 1 entries, not a text"),
    ("info", [["x"] * 3] * 2, "'info' is a list of 2 entries, not a text"),
    ("info", torch.zeros(3), "'info' is a Tensor, not a text"),
    ("version", "v3", "'version' is 'v3', expected 'v1' or 'v2'"),
    ("version", "v2" * 100, "'version' is a text of 200 characters"),
    ("f0", 2, "'f0' is 2, expected 0 or 1"),
    ("sr", ["40k"], "'sr' is a list of 1 entries"),
    ("config", {"a": 1}, "'config' is a dict of 1 entries, expected the list"),
    ("config", list(range(100)), "'config' is a list of 100 entries"),
])
def test_a_field_in_another_shape_is_refused_by_name(tmp_path: Path, tiny: dict, field: str, value: object,
                                                     problem: str):
    path = tmp_path / "odd.pth"
    torch.save({**tiny, field: value}, path)
    with pytest.raises(CheckpointError, match=f"^{re.escape(f'{path}: {problem}')}"):
        load_checkpoint(path)


def test_a_config_entry_in_another_shape_is_refused_by_position(tmp_path: Path, tiny: dict):
    path = tmp_path / "odd.pth"
    config = list(tiny["config"])
    config[11] = [[1, 3, [5]]] * 3  # the dilations, one level too deep
    torch.save({**tiny, "config": config}, path)
    with pytest.raises(CheckpointError, match="'config' entry 11 is a list of 3 entries, expected a number"):
        load_checkpoint(path)


def test_weights_that_are_not_tensors_are_refused(tmp_path: Path, tiny: dict):
    path = tmp_path / "odd.pth"
    torch.save({**tiny, "weight": {**tiny["weight"], "enc_p.emb_phone.weight": [1.0] * 10}}, path)
    with pytest.raises(CheckpointError, match="'weight' holds a list of 10 entries under 'enc_p.emb_phone.weight'"):
        load_checkpoint(path)


def test_a_training_checkpoints_iteration_must_be_a_number(tmp_path: Path, tiny: dict):
    path = tmp_path / "G_1.pth"
    torch.save({"model": {k: v.float() for k, v in tiny["weight"].items()}, "iteration": ["1"] * 5}, path)
    with pytest.raises(CheckpointError, match="'iteration' is a list of 5 entries, not a step count"):
        load_checkpoint(path)


def test_setting_an_info_longer_than_a_model_may_hold_is_refused(tmp_path: Path):
    path = tmp_path / "voice.pth"
    path.write_bytes(TINY.read_bytes())
    with pytest.raises(ValueError, match=f"has {MAX_INFO_CHARS + 1} characters"):
        modify_info(path, "a" * (MAX_INFO_CHARS + 1))
    assert path.read_bytes() == TINY.read_bytes()
