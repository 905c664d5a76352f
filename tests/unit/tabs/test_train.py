"""The wizard: panels unlock in order, steps create or reuse the experiment, plots come from the metrics."""

from __future__ import annotations

import json

import gradio as gr
import pytest

from tabs import train


def _interactive(updates: list) -> list[bool]:
    # summary, extract, train, pause, resume, index, export, checkpoint, step2, step3, step4
    return [update["interactive"] for update in updates[1:7]]


def test_panels_unlock_step_by_step():
    new = train.wizard_updates(None)
    assert _interactive(new) == [False] * 6
    assert "New experiment" in new[0]
    base = {"id": "tr1", "name": "v", "target_sr": "40k", "version": "v2", "if_f0": True, "tasks": {},
            "checkpoints": []}
    preprocessed = train.wizard_updates(base | {"current_step": "preprocessed"})
    assert _interactive(preprocessed) == [True, False, False, False, False, False]
    extracted = train.wizard_updates(base | {"current_step": "extracted"})
    assert _interactive(extracted) == [True, True, True, False, True, False]
    trained = train.wizard_updates(base | {"current_step": "trained", "checkpoints": ["G_10.pth", "G_20.pth"]})
    assert _interactive(trained)[-1] is True
    assert trained[7]["value"] == "G_20.pth"
    running = train.wizard_updates(base | {"current_step": "extracted", "tasks": {
        "train": {"id": "t", "kind": "train", "status": "running"}}})
    assert _interactive(running)[1] is False  # no second training while one runs
    assert "train is running" in running[0]


def test_metrics_become_a_loss_plot_and_an_lr_plot():
    rows = [{"step": 1, "epoch": 1, "loss_g": 3.0, "loss_d": 2.0, "loss_mel": 20.0, "loss_kl": 1.0, "lr": 1e-4},
            {"step": 2, "epoch": 1, "loss_g": 2.5, "loss_d": 1.9, "loss_mel": 18.0, "loss_kl": 0.9, "lr": 1e-4}]
    losses, rates = train.metrics_frames(rows)
    assert len(losses) == 8 and set(losses["series"]) == set(train.LOSSES)
    assert list(rates["lr"]) == [1e-4, 1e-4]


def test_preprocess_creates_the_experiment_with_the_run_config(fake, tmp_path):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"train": {}, "data": {}, "model": {}}))
    outputs = list(train.preprocess("voice", "40k", "v2", True, None, str(tmp_path), None, str(config)))
    status, log = outputs[-1]
    assert "completed" in status and "started" in log
    name, kwargs = fake.calls[0][0], fake.calls[0][2]
    assert name == "create_training" and kwargs["config"] == {"train": {}, "data": {}, "model": {}}
    assert fake.calls[0][1] == ("voice", "40k", True, "v2", str(tmp_path))
    assert fake.calls[1][0] == "start_preprocess"


def test_preprocess_again_reuses_the_experiment(fake, tmp_path):
    list(train.preprocess("voice", "40k", "v2", True, None, str(tmp_path), 2, ""))
    list(train.preprocess("voice", "40k", "v2", True, None, str(tmp_path), 2, ""))
    assert [call[0] for call in fake.calls] == ["create_training", "start_preprocess", "start_preprocess"]
    assert fake.calls[-1][2] == {"n_proc": 2}


def test_several_uploaded_clips_become_one_dataset_folder(fake, tmp_path):
    clips = []
    for name in ("a.wav", "b.wav"):
        (tmp_path / name).write_bytes(b"RIFF....WAVE")
        clips.append(str(tmp_path / name))
    assert train.dataset_path("voice", clips, "") == "/uploads/dataset-voice"
    with pytest.raises(gr.Error, match="Upload the dataset"):
        train.dataset_path("voice", [], " ")


def test_a_step_of_an_unknown_experiment_says_to_start_with_step_one(fake):
    with pytest.raises(gr.Error, match="start with step 1"):
        list(train.extract("nobody", "pm", "cpu"))


def test_train_follows_the_task_and_reads_the_metrics(fake, tmp_path):
    list(train.preprocess("voice", "40k", "v2", True, None, str(tmp_path), None, ""))
    fake.metrics = [{"step": 1, "epoch": 1, "loss_g": 3.0, "lr": 1e-4}]
    fake.script.insert(1, {"type": "metric", "step": 1, "epoch": 1, "loss_g": 3.0, "lr": 1e-4})
    status, log, losses, rates = list(train.train("voice", 2, 4, 1, False, False, False, "auto", "", "cpu"))[-1]
    assert "completed" in status
    assert list(losses["value"]) == [3.0] and list(rates["lr"]) == [1e-4]
    options = fake.calls[-1][2]
    assert options["pretrained_g"] == "auto" and options["pretrained_d"] is None and options["epochs"] == 2


def test_load_training_shows_the_stored_state(fake, tmp_path):
    list(train.preprocess("voice", "48k", "v1", False, None, str(tmp_path), None, ""))
    fake.trainings["tr1"]["current_step"] = "preprocessed"
    loaded = train.load_training("voice")
    assert loaded[:4] == ["48k", "v1", False, str(tmp_path)]
    report = loaded[4 + 11]
    assert "pieces" in report
    samples = loaded[4 + 12: 4 + 12 + train.SAMPLES]
    assert all(sample["visible"] for sample in samples)
    assert "completed" in loaded[-5]  # the preprocess task's status
