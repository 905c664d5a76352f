"""The bounds on what a torch file declares (`rvc.torch_bounds`) and on what it unpickles to (`rvc.object_budget`)
admit every real file in every container torch reads, and refuse past them (the hostile corpus:
tests/unit/hardening/test_hostile_structures.py)."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest
import torch

from rvc.embedders.safe_checkpoint import STAND_INS
from rvc.object_budget import MAX_DEPTH, MAX_OBJECTS, MAX_TEXT_CHARS, ObjectBudgetError, check_object_budget
from rvc.safe_load import load_weights
from rvc.synth import Synthesizer, preset_config
from rvc.synth.checkpoint import save_training_checkpoint
from rvc.torch_bounds import check_declared_sizes
from tests.conftest import REFERENCE_DIR
from tests.factories import tiny_pth, write_full_hubert, write_rule_rmvpe, write_rule_synthesizer

TINY = tiny_pth("tiny_v2_f0_40k")


@pytest.mark.parametrize("path", sorted(REFERENCE_DIR.rglob("*.pth")), ids=lambda path: path.name)
def test_every_reference_model_passes(path: Path):
    check_declared_sizes(path)
    assert isinstance(load_weights(path), dict)


def _rezipped(source: Path, target: Path, compression: int) -> Path:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", compression) as archive:
        for entry in original.infolist():
            archive.writestr(entry.filename, original.read(entry.filename))
    return target


def test_a_model_in_the_legacy_format_passes(tmp_path: Path):
    content = torch.load(TINY, weights_only=True)
    path = tmp_path / "legacy.pth"
    torch.save({**content, "view": content["weight"]["emb_g.weight"][1:3]}, path, _use_new_zipfile_serialization=False)
    check_declared_sizes(path)
    assert load_weights(path)["config"] == content["config"]


def test_a_deflated_copy_of_a_model_passes(tmp_path: Path):
    path = _rezipped(TINY, tmp_path / "deflated.pth", zipfile.ZIP_DEFLATED)
    check_declared_sizes(path)
    assert load_weights(path)["info"] == "1epoch"


def test_a_zip64_directory_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A file past 4 GB or 65535 records ends with zip64 records; one entry over the limit makes zipfile write them."""
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 1)
    path = _rezipped(TINY, tmp_path / "zip64.pth", zipfile.ZIP_STORED)
    assert b"PK\x06\x06" in path.read_bytes()[-200:]
    check_declared_sizes(path)
    assert load_weights(path)["info"] == "1epoch"


@pytest.mark.slow
def test_full_size_files_pass(tmp_path: Path):
    """The largest files of the ecosystem: a full v2 model, hubert_base.pt, rmvpe.pt and a 48k `G_*.pth` with its
    optimizer's state (430 MB, 2246 records, a 220 KB pickle: 6,200 objects)."""
    model = Synthesizer(preset_config("v2", "48k", True))
    optimizer = torch.optim.AdamW(model.parameters())
    for parameter in model.parameters():
        parameter.grad = torch.zeros_like(parameter)
    optimizer.step()
    files = [write_rule_synthesizer(tmp_path / "full.pth", "v2", "40k", True),
             write_full_hubert(tmp_path / "hubert_base.pt"), write_rule_rmvpe(tmp_path / "rmvpe.pt"),
             save_training_checkpoint(tmp_path / "G_1.pth", model, optimizer, 1e-4, 1)]
    del model, optimizer
    for path in files:
        check_declared_sizes(path)
        load_weights(path, STAND_INS)


def test_shared_references_count_each_time_they_are_met():
    shared = list(range(1000))
    check_object_budget([shared] * (MAX_OBJECTS // 1000 - 2))
    with pytest.raises(ObjectBudgetError, match=f"more than {MAX_OBJECTS} objects"):
        check_object_budget([shared] * (MAX_OBJECTS // 1000 + 1))


def test_a_doubling_structure_is_refused_at_once():
    level: list = ["leaf"]
    for _ in range(60):  # 2**60 paths
        level = [level, level]
    start = time.perf_counter()
    with pytest.raises(ObjectBudgetError):
        check_object_budget(level)
    assert time.perf_counter() - start < 0.5


def test_depth_is_bounded_without_recursion():
    nested: list = []
    for _ in range(200_000):
        nested = [nested]
    check_object_budget(_nested(MAX_DEPTH))
    for deep in (_nested(MAX_DEPTH + 1), nested):
        with pytest.raises(ObjectBudgetError, match=f"more than {MAX_DEPTH} levels deep"):
            check_object_budget(deep)


def _nested(levels: int) -> list:
    value: list = [1]
    for _ in range(levels - 1):
        value = [value]
    return value


def test_text_is_bounded_counting_repeats():
    text = "x" * (MAX_TEXT_CHARS // 4)
    check_object_budget({"a": text, "b": [text, text]})
    with pytest.raises(ObjectBudgetError, match="characters of text"):
        check_object_budget({"a": [text] * 5})


def test_a_huge_container_is_refused_without_copying_it():
    flat = list(range(5 * MAX_OBJECTS))
    start = time.perf_counter()
    with pytest.raises(ObjectBudgetError):
        check_object_budget({"weights": {"x": torch.zeros(2)}, "info": flat})
    assert time.perf_counter() - start < 0.05


def test_tensors_and_other_objects_are_leaves():
    check_object_budget({"weight": {f"k{i}": torch.zeros(2) for i in range(1000)}, "args": io.StringIO("x")})
