"""Trainings: validated records, steps in order (409 naming the missing one), the command line of each step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rvc import service
from rvc.__main__ import build_parser
from rvc.jobs import Progress, Task, TaskStatus
from rvc.security import allowed_roots
from rvc.service.trainings import current_step
from tests.unit.service.conftest import write_wav


@pytest.fixture()
def dataset(home: Path) -> Path:
    folder = home / "uploads" / "voice"
    for number in range(2):
        write_wav(folder / f"{number}.wav")
    return folder


def create(name: str = "alice", **changes) -> dict:
    values = {"target_sr": "40k", "if_f0": True, "version": "v2", "dataset_path": "uploads/voice"} | changes
    return service.create_training(name, **values)


def finish(task: dict) -> dict:
    done = service.wait_task(task["id"], timeout=60)
    assert done["status"] == "completed", done["error"]
    return done


def test_a_training_is_created_with_its_dataset_resolved(home: Path, dataset: Path, jobs):
    training = create()
    assert training["name"] == "alice" and training["current_step"] == "none" and training["config"] == {}
    assert training["dataset_path"] == str(dataset)
    assert service.get_training(training["id"])["tasks"] == {}
    assert service.list_trainings()["total"] == 1


@pytest.mark.parametrize(("changes", "error", "message"), [
    ({"target_sr": "44k"}, ValueError, "target_sr"),
    ({"version": "v3"}, ValueError, "version"),
    ({"if_f0": "yes"}, ValueError, "if_f0"),
    ({"dataset_path": "/etc"}, service.PathNotAllowedError, "outside"),
    ({"dataset_path": "uploads/none"}, FileNotFoundError, "does not exist"),
    ({"config": {"train": {}}}, ValueError, "lacks the data, model"),
    ({"config": {"train": {}, "model": {}, "data": {"sampling_rate": 48000}}}, ValueError, "48000"),
])
def test_bad_trainings_are_refused(home: Path, dataset: Path, jobs, changes, error, message):
    with pytest.raises(error, match=message):
        create(**changes)


@pytest.mark.parametrize("name", ["../evil", "a/b", ".hidden", "mute", ""])
def test_names_must_be_plain_folder_names(home: Path, dataset: Path, jobs, name: str):
    with pytest.raises(ValueError):
        create(name)


OPTION_LIKE = ["-h", "--config=/etc/passwd", "--help", "-", "--"]


@pytest.mark.parametrize("name", OPTION_LIKE)
def test_a_name_that_reads_as_an_option_is_refused_everywhere_a_name_is_given(home: Path, dataset: Path, jobs,
                                                                              name: str):
    """Experiments and models are named on the step commands' command lines: a leading '-' is refused at the
    door, by training, one click, export, rename and merge alike, before anything is queued or written."""
    refusal = "starts with '-', which a command line reads as an option"
    calls = [lambda: create(name), lambda: service.start_oneclick(name, "uploads/voice"),
             lambda: service.rename_model("tiny", name), lambda: service.merge_models("tiny", "tiny", 0.5, name)]
    for call in calls:
        with pytest.raises(ValueError, match=refusal):
            call()
    training_id = create()["id"]
    (home / "logs" / "alice").mkdir(parents=True)
    (home / "logs" / "alice" / "G_4.pth").write_bytes(b"")
    with pytest.raises(ValueError, match=refusal):
        service.start_export(training_id, service.ExportParams(export_name=name))
    assert service.list_trainings()["total"] == 1 and service.list_tasks()["total"] == 0
    assert sorted(path.name for path in (home / "assets" / "weights").iterdir()) == ["tiny.pth"]


def test_names_and_paths_come_after_a_double_dash_so_no_step_reads_them_as_options(home: Path, dataset: Path, jobs):
    """A training named "-h" (as a server before the name check could store it) and a merge's info text "-rf":
    each command line puts them where `python -m rvc` takes them as the name and the text, not as options."""
    store = service.runner().store
    training = store.create_training("-h", "40k", True, "v2", str(dataset), {})
    argv = finish(service.start_preprocess(training.id))["result"]["argv"]
    assert argv[argv.index("--"):] == ["--", "-h", str(dataset)]
    parsed = build_parser("preprocess").parse_args(argv)
    assert (parsed.experiment, parsed.dataset, parsed.sr) == ("-h", str(dataset), "40k")
    assert parsed.confine_to == [str(root) for root in allowed_roots()]
    with pytest.raises(service.NotFound):  # the stand-in command writes no model
        service.merge_models("tiny", "tiny", 0.5, "mixed", info="-rf")
    merged = service.list_tasks(kind="merge")["items"][0]["result"]["argv"]
    parsed = build_parser("merge").parse_args(merged)
    assert (parsed.model_a, parsed.info) == (str(home / "assets" / "weights" / "tiny.pth"), "-rf")


def test_a_model_info_is_set_by_a_task_with_the_text_as_given(home: Path, jobs):
    """The server never reads the model to rewrite its info: a task does, and a text like "-h" stays a text."""
    service.set_model_info("tiny", "-h")
    task = service.list_tasks(kind="info")["items"][0]
    parsed = build_parser("info").parse_args(task["result"]["argv"])
    assert (parsed.model, parsed.text) == (str(home / "assets" / "weights" / "tiny.pth"), "-h")
    assert task["params"] == {"model": "tiny"}


def test_a_taken_name_is_a_conflict(home: Path, dataset: Path, jobs):
    create()
    with pytest.raises(service.Conflict, match="exists"):
        create()
    (home / "logs" / "bob").mkdir(parents=True)
    with pytest.raises(service.Conflict, match="logs/bob exists"):
        create("bob")


def test_steps_run_in_order_with_the_commands_of_rvc_main(home: Path, dataset: Path, jobs):
    training_id = create(config={"train": {}, "model": {}, "data": {"sampling_rate": 40000}})["id"]
    for early in (service.start_extract, service.start_train, service.start_index):
        with pytest.raises(service.Conflict, match="needs the (preprocess|extract) step first"):
            early(training_id)
    with pytest.raises(service.Conflict, match="no pieces yet"):
        service.preprocess_samples(training_id)

    task = service.start_preprocess(training_id, service.PreprocessParams(n_proc=2))
    with pytest.raises(service.Conflict, match="preprocess step is (queued|running)"):
        service.start_preprocess(training_id)
    confined = [f"--confine-to={root}" for root in allowed_roots()]  # the dataset is read inside these only
    assert finish(task)["result"]["argv"] == ["preprocess", "--sr", "40k", "--n-proc", "2", *confined,
                                              "--", "alice", str(dataset)]
    assert service.get_training(training_id)["current_step"] == "preprocessed"

    task = finish(service.start_extract(training_id, service.ExtractParams("pm", "cpu")))
    run_config = home / "logs" / "alice" / "run_config.json"
    assert task["result"]["argv"] == ["extract", "--version", "v2", "--f0-method", "pm", "--devices", "cpu",
                                      "--config", str(run_config), "--", "alice"]
    assert json.loads(run_config.read_text())["data"]["sampling_rate"] == 40000
    with pytest.raises(service.Conflict, match="settled once features are extracted"):
        service.update_training(training_id, config={})

    params = service.TrainParams(epochs=3, batch_size=2, save_every=1, latest_only=True, devices="cpu")
    task = finish(service.start_train(training_id, params))
    assert task["result"]["argv"] == [
        "train", "--sr", "40k", "--version", "v2", "--f0", "--epochs", "3", "--batch-size", "2",
        "--save-every", "1", "--latest-only", "--no-cache-in-gpu", "--no-save-small-each", "--pretrained-g", "none",
        "--pretrained-d", "none", "--devices", "cpu", "--", "alice"]  # "auto" base models: none, said outright
    assert task["params"]["experiment"] == "alice" and task["training_id"] == training_id
    finish(service.start_index(training_id))
    assert service.get_training(training_id)["current_step"] == "indexed"

    with pytest.raises(service.Conflict, match="export needs a checkpoint"):
        service.start_export(training_id)
    (home / "logs" / "alice" / "G_4.pth").write_bytes(b"")
    (home / "logs" / "alice" / "G_12.pth").write_bytes(b"")
    with pytest.raises(ValueError, match="not one of G_4.pth, G_12.pth"):
        service.start_export(training_id, service.ExportParams("G_9.pth"))
    with pytest.raises(service.Conflict, match="'tiny' exists"):
        service.start_export(training_id, service.ExportParams(export_name="tiny"))
    task = finish(service.start_export(training_id, service.ExportParams("G_4.pth", "alice_v1")))
    assert task["result"]["argv"] == ["export", "--checkpoint-name", "G_4.pth", "--export-name", "alice_v1",
                                      "--no-overwrite", "--", "alice"]
    (home / "assets" / "weights" / "alice_v1.pth").write_bytes(b"")  # what the export would write

    detail = service.get_training(training_id)
    assert detail["current_step"] == "exported" and detail["checkpoints"] == ["G_4.pth", "G_12.pth"]
    assert set(detail["tasks"]) == {"preprocess", "extract", "train", "index", "export"}
    assert detail["exported_models"] == ["alice_v1"]


def test_options_are_checked_before_queuing(home: Path, dataset: Path, jobs):
    training_id = create()["id"]
    finish(service.start_preprocess(training_id))
    with pytest.raises(ValueError, match="f0_method"):
        service.start_extract(training_id, service.ExtractParams("nope"))
    with pytest.raises(ValueError, match="devices"):
        service.start_extract(training_id, service.ExtractParams("pm", "gpu"))
    with pytest.raises(FileNotFoundError, match="rmvpe"):
        service.start_extract(training_id, service.ExtractParams("rmvpe"))
    finish(service.start_extract(training_id, service.ExtractParams("pm")))
    with pytest.raises(ValueError, match="epochs=0"):
        service.start_train(training_id, service.TrainParams(epochs=0))
    with pytest.raises(service.PathNotAllowedError):
        service.start_train(training_id, service.TrainParams(pretrained_g="/etc/passwd"))
    assert service.list_tasks(kind="train")["total"] == 0


def test_pause_and_resume_need_a_running_or_paused_training(home: Path, dataset: Path, jobs):
    training_id = create()["id"]
    with pytest.raises(service.Conflict, match="no training task"):
        service.pause_training(training_id)
    with pytest.raises(service.Conflict, match="never started"):
        service.resume_training(training_id)


def test_unknown_ids_are_not_found(home: Path, jobs):
    for call in (service.get_training, service.start_preprocess, service.training_metrics,
                 service.delete_training, service.pause_training):
        with pytest.raises(service.NotFound):
            call("nope")


def test_metrics_since_a_step(home: Path, dataset: Path, jobs):
    training_id = create()["id"]
    for step in range(5):
        service.runner().store.add_metric(training_id, step, 0, {"loss_g": 10.0 - step})
    metrics = service.training_metrics(training_id, since_step=2)
    assert [(m["step"], m["loss_g"]) for m in metrics] == [(3, 7.0), (4, 6.0)]


def test_delete_with_files_removes_the_experiment_folder(home: Path, dataset: Path, jobs):
    training_id = create()["id"]
    (home / "logs" / "alice").mkdir(parents=True)
    service.delete_training(training_id, with_files=True)
    assert not (home / "logs" / "alice").exists()
    with pytest.raises(service.NotFound):
        service.get_training(training_id)


def task(kind: str, status: TaskStatus = TaskStatus.COMPLETED) -> Task:
    return Task("id", kind, status, {}, [], "cpu", Progress(), 0.0)


@pytest.mark.parametrize(("history", "step"), [
    ([], "none"),
    ([task("preprocess", TaskStatus.FAILED)], "none"),
    ([task("preprocess"), task("extract")], "extracted"),
    ([task("preprocess"), task("extract"), task("index"), task("train")], "indexed"),
    ([task("preprocess"), task("extract"), task("train", TaskStatus.PAUSED)], "extracted"),
    ([task("preprocess"), task("extract"), task("train"), task("preprocess")], "preprocessed"),
    ([task("preprocess"), task("extract"), task("train"), task("export")], "exported"),
])
def test_current_step_follows_the_completed_tasks(history: list[Task], step: str):
    assert current_step(history) == step


def test_one_click_trains_on_every_gpu_by_default_and_the_kind_it_is_asked_for(home: Path, dataset: Path, jobs):
    """The task's command line says `--devices auto`, which the steps resolve to every GPU (else the CPU): on the
    GPU workstation one click no longer trains on the CPU. Sample rate, version and pitch are the caller's."""
    task = finish(service.start_oneclick("bob", "uploads/voice", service.OneClickParams(
        preset="fast", sample_rate="48k", version="v1", f0=False)))
    argv = task["result"]["argv"]
    assert argv[argv.index("--devices") + 1] == "auto"
    assert argv[argv.index("--sample-rate") + 1] == "48k" and "--no-f0" in argv
    training = service.get_training(task["training_id"])
    assert (training["target_sr"], training["version"], training["if_f0"]) == ("48k", "v1", False)


def test_every_front_end_defaults_to_auto_devices():
    from rvc.api.schemas import ExtractRequest, QuickRequest, TrainRequest

    assert {ExtractRequest().devices, TrainRequest().devices, service.OneClickParams().devices,
            service.TrainParams.control("devices")["value"], QuickRequest.model_fields["devices"].default} == {"auto"}


def test_auto_devices_are_every_cuda_gpu_when_there_are_some(monkeypatch):
    import torch

    from rvc import devices
    from rvc.service.jobs import resource_of
    from rvc.train.distributed import parse_devices

    devices.accelerators.cache_clear()
    assert resource_of("auto") == "cpu" and parse_devices("auto").kind == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: f"GPU {index}")
    devices.accelerators.cache_clear()
    try:
        assert resource_of("auto") == "gpu:0"
        plan = parse_devices("auto")
        assert (plan.kind, plan.indices) == ("cuda", (0, 1))
    finally:
        devices.accelerators.cache_clear()
