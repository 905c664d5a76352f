"""Steps 4a/4b: the experiment's index under the original's names, and the small model export."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest
import torch

from rvc.synth import Synthesizer, SynthesizerConfig, load_synthesizer
from rvc.train.export import ExportError, export_model
from rvc.train.index import IndexStepError, train_index
from rvc.train.steps import QuietSink
from tests.unit.train.tiny_experiment import make_experiment


@pytest.fixture()
def experiment(tmp_path, monkeypatch):
    monkeypatch.setenv("RVC_HOME", str(tmp_path / "home"))
    return make_experiment(tmp_path / "home" / "logs", "voice", pieces=8)


def test_index_has_the_original_names_and_all_vectors(experiment, tmp_path):
    result = train_index(experiment, QuietSink(), n_cpu=1)
    rows = sum(np.load(p).shape[0] for p in (experiment / "3_feature768").glob("*.npy"))
    n_ivf = min(int(16 * rows**0.5), rows // 39)
    assert result["ntotal"] == rows and result["n_ivf"] == n_ivf
    assert (experiment / f"added_IVF{n_ivf}_Flat_nprobe_1_voice_v2.index").is_file()
    assert (experiment / f"trained_IVF{n_ivf}_Flat_nprobe_1_voice_v2.index").is_file()
    linked = tmp_path / "home" / "assets" / "indices" / f"voice_IVF{n_ivf}_Flat_nprobe_1_voice_v2.index"
    assert result["index_path"] == str(linked) and faiss.read_index(str(linked)).ntotal == rows


def test_index_before_extract_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("RVC_HOME", str(tmp_path))
    (tmp_path / "logs" / "empty").mkdir(parents=True)
    with pytest.raises(IndexStepError, match="python -m rvc extract empty"):
        train_index(tmp_path / "logs" / "empty", QuietSink())


def save_generator(experiment, step: int) -> None:
    config = SynthesizerConfig.from_experiment_json(experiment / "config.json", "v2", True)
    torch.save({"model": Synthesizer(config).state_dict(), "iteration": step}, experiment / f"G_{step}.pth")


def test_export_takes_the_latest_checkpoint_and_never_overwrites(experiment, tmp_path):
    save_generator(experiment, 5)
    save_generator(experiment, 20)
    result = export_model(experiment, name="MyVoice")
    assert result["checkpoint"].endswith("G_20.pth")
    model = load_synthesizer(result["model_path"])
    assert (model.info.version, model.info.sample_rate, model.info.f0) == ("v2", 40000, True)
    before = (tmp_path / "home" / "assets" / "weights" / "MyVoice.pth").read_bytes()
    with pytest.raises(ExportError, match="exists"):
        export_model(experiment, checkpoint="G_5.pth", name="MyVoice")
    assert (tmp_path / "home" / "assets" / "weights" / "MyVoice.pth").read_bytes() == before
    assert export_model(experiment, checkpoint="G_5.pth", name="MyVoice", overwrite=True)["checkpoint"].endswith(
        "G_5.pth")


@pytest.mark.parametrize(("checkpoint", "name"), [("../G_5.pth", None), ("G_404.pth", None), (None, "../evil")])
def test_export_refuses_bad_names(experiment, checkpoint, name):
    save_generator(experiment, 5)
    with pytest.raises(ExportError):
        export_model(experiment, checkpoint=checkpoint, name=name)


def test_index_rerun_over_unchanged_features_reuses_the_index(experiment):
    first = train_index(experiment, QuietSink(), n_cpu=1)
    added = experiment / Path(first["experiment_index"]).name
    built_at = added.stat().st_mtime_ns
    again = train_index(experiment, QuietSink(), n_cpu=1)
    assert again["reused"] and not first["reused"] and added.stat().st_mtime_ns == built_at
    assert {k: v for k, v in again.items() if k != "reused"} == {k: v for k, v in first.items() if k != "reused"}


def test_index_is_rebuilt_when_features_change_or_the_index_is_gone(experiment):
    first = train_index(experiment, QuietSink(), n_cpu=1)
    feature = sorted((experiment / "3_feature768").glob("*.npy"))[0]
    np.save(feature, np.concatenate([np.load(feature)] * 2))
    grown = train_index(experiment, QuietSink(), n_cpu=1)
    assert not grown["reused"] and grown["ntotal"] > first["ntotal"]
    Path(grown["index_path"]).unlink()
    assert not train_index(experiment, QuietSink(), n_cpu=1)["reused"]


def test_export_of_the_same_checkpoint_again_is_reused_not_refused(experiment):
    save_generator(experiment, 5)
    first = export_model(experiment, name="Again")
    written_at = Path(first["model_path"]).stat().st_mtime_ns
    again = export_model(experiment, name="Again")
    assert again["reused"] and Path(again["model_path"]).stat().st_mtime_ns == written_at
    save_generator(experiment, 5)  # the same checkpoint rewritten: a new export, refused without overwrite
    with pytest.raises(ExportError, match="exists"):
        export_model(experiment, name="Again")
