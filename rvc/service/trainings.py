"""Trainings: the wizard's steps (preprocess, extract, train, then index and export) over one experiment folder,
`logs/<name>/`, plus the one-click run that does them all.

A training is a record in the job store and its folder; each step is a task running `python -m rvc <step>`
linked to the training, so the runner files the trainer's metrics under it. Where a training stands
(`current_step`) follows from its completed tasks, oldest first: preprocess and extract set it (redoing one makes
the later steps stale), train, index and export raise it. A step asked for before its prerequisite, or while
another step of the same training is queued or running, is a `Conflict` that says which.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from rvc.assets import find_asset, is_present, require_asset
from rvc.config import embedder_override, get_paths
from rvc.infer.converter import ConvertParams, as_params
from rvc.jobs import TRAINING_STEPS, Task, TaskStatus, Training
from rvc.security import allowed_roots
from rvc.service.errors import Conflict, NotFound
from rvc.service.files import client_path
from rvc.service.jobs import command_argv, job_errors, require_command, resource_of, runner, submit
from rvc.service.models import check_model_name
from rvc.service.pages import check_window, page
from rvc.service.tasks import stream_task, with_confined_f0_file
from rvc.synth.config import SAMPLE_RATES_HZ
from rvc.train.params import (
    AUTO_BASE_MODEL,
    ExportParams,
    ExtractParams,
    IndexParams,
    OneClickParams,
    PreprocessParams,
    TrainParams,
)
from rvc.train.preprocess import GT_WAVS, REPORT_FILE, audition_samples
from rvc.vocabulary import SAMPLE_RATES, VERSIONS

ONECLICK_KIND = "oneclick"
STEP_REACHED = {"preprocess": "preprocessed", "extract": "extracted", "train": "trained", "index": "indexed",
                "export": "exported"}
REDO_KINDS = ("preprocess", "extract")  # redoing one of these makes the steps after it stale
REQUIRES = {"extract": "preprocess", "train": "extract", "index": "extract"}  # export needs a checkpoint instead
TRAIN_KINDS = ("train", ONECLICK_KIND)  # the tasks that train, and so can pause
RUN_CONFIG_FILE = "run_config.json"  # the training's own run config, handed to extract as --config
RESERVED_NAMES = {"mute"}  # logs/mute/ holds the silence features extract shares between experiments
_CHECKPOINT = re.compile(r"^G_(\d+)\.pth$")


def _rank(step: str) -> int:
    return TRAINING_STEPS.index(step)


def _training(training_id: str) -> Training:
    with job_errors():
        return runner().store.get_training(training_id)


def _experiment(training: Training) -> Path:
    return get_paths().logs / training.name


def _tasks(training_id: str) -> list[Task]:
    """The training's tasks, oldest first."""
    return runner().store.list_tasks(training_id=training_id, limit=None, oldest_first=True).items


def current_step(tasks: list[Task]) -> str:
    """The furthest step the completed tasks (oldest first) reach; see the module's docstring."""
    reached = TRAINING_STEPS[0]
    for task in tasks:
        if task.status is not TaskStatus.COMPLETED or task.kind not in STEP_REACHED:
            continue
        step = STEP_REACHED[task.kind]
        reached = step if task.kind in REDO_KINDS else max(reached, step, key=_rank)
    return reached


def _synced(training: Training, tasks: list[Task]) -> Training:
    """The training with `current_step` brought up to date with its tasks (and stored, for listings)."""
    step = current_step(tasks)
    if step == training.current_step:
        return training
    with job_errors():
        return runner().store.update_training(training.id, current_step=step)


def _check_idle(tasks: list[Task]) -> None:
    for task in tasks:
        if not task.done:
            raise Conflict(f"the training's {task.kind} step is {task.status} (task {task.id}): "
                           "wait for it to end or cancel it")


def _require(kind: str, tasks: list[Task]) -> None:
    needed = REQUIRES.get(kind)
    reached = current_step(tasks)
    if needed and _rank(reached) < _rank(STEP_REACHED[needed]):
        raise Conflict(f"{kind} needs the {needed} step first (this training's last completed step: {reached})")


def _checkpoints(experiment: Path) -> list[str]:
    """The G_*.pth file names of the experiment by step."""
    found = [(int(m.group(1)), p.name) for p in experiment.glob("G_*.pth") if (m := _CHECKPOINT.match(p.name))]
    return [name for _, name in sorted(found)]


def _check_run_config(config: dict[str, Any], target_sr: str) -> None:
    """A run config in the original's layout (train/data/model sections) at the training's rate."""
    missing = [key for key in ("train", "data", "model") if not isinstance(config.get(key), dict)]
    if missing:
        raise ValueError(f"config is not a run config: it lacks the {', '.join(missing)} section(s)")
    rate = config["data"].get("sampling_rate")
    if rate != SAMPLE_RATES_HZ[target_sr]:
        raise ValueError(f"config's data.sampling_rate is {rate!r} but target_sr is {target_sr}")


def _confinement() -> list[str]:
    """The options that confine a step's reading of the dataset to the allowed roots (`--confine-to`), so that a
    link in a dataset folder cannot pull another file of the server into an experiment."""
    return [f"--confine-to={root}" for root in allowed_roots()]


def _dataset(path: str) -> Path:
    dataset = client_path(path)
    if not (dataset.is_dir() or dataset.is_file()):
        raise ValueError(f"dataset_path {path!r} is neither a folder of clips nor one recording")
    return dataset


# --- the records --------------------------------------------------------------------------------------------


def create_training(
    name: str, target_sr: str, if_f0: bool, version: str, dataset_path: str, config: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A new training of a model kind (rate, pitch, version) on a dataset (a folder of clips or one recording).

    ``config`` (advanced) replaces the preset run config of the rate and version: the original's
    train/data/model JSON (smoke runs and tests use a tiny one). Conflict when the name is taken, by a training
    or by a folder in logs/.
    """
    check_model_name(name)
    if name in RESERVED_NAMES:
        raise ValueError(f"{name!r} is reserved: choose another name")
    if target_sr not in SAMPLE_RATES:
        raise ValueError(f"target_sr {target_sr!r}: use one of {', '.join(SAMPLE_RATES)}")
    if version not in VERSIONS:
        raise ValueError(f"version {version!r}: use one of {', '.join(VERSIONS)}")
    if not isinstance(if_f0, bool):
        raise ValueError("if_f0 must be true or false")
    dataset = _dataset(dataset_path)
    if config:
        _check_run_config(config, target_sr)
    store = runner().store
    try:
        store.find_training(name)
    except LookupError:
        pass
    else:
        raise Conflict(f"a training named {name!r} exists")
    if (get_paths().logs / name).exists():
        raise Conflict(f"logs/{name} exists: choose another name (or delete that folder)")
    try:
        training = store.create_training(name, target_sr, if_f0, version, str(dataset), config or {})
    except ValueError as error:  # created by another request in the meantime
        raise Conflict(str(error)) from error
    return training.to_dict()


def list_trainings(limit: int = 50, offset: int = 0) -> dict[str, Any]:
    check_window(limit, offset)
    found = runner().store.list_trainings(limit, offset)
    items = [_synced(training, _tasks(training.id)).to_dict() for training in found.items]
    return page(items, found.total, limit, offset)


def get_training(training_id: str) -> dict[str, Any]:
    """The training plus its latest task per step, checkpoints, whether it has an index and its exported models."""
    training = _training(training_id)
    tasks = _tasks(training_id)
    training = _synced(training, tasks)
    experiment = _experiment(training)
    exports = {t.params.get("export_name") for t in tasks if t.kind == "export" and t.status is TaskStatus.COMPLETED}
    exported = [path.stem for path in sorted(get_paths().weights.glob("*.pth"))  # the trainer's and the exports
                if path.stem in exports or path.stem == training.name or path.stem.startswith(f"{training.name}_")]
    return training.to_dict() | {
        "tasks": {task.kind: task.to_dict() for task in tasks},  # oldest first, so the latest of each kind wins
        "checkpoints": _checkpoints(experiment),
        "has_index": any(experiment.glob("added_*.index")),
        "exported_models": exported,
    }


def update_training(training_id: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Replace the training's run config (see `create_training`); only before features are extracted, since the
    features and checkpoints are made for it.
    """
    training = _training(training_id)
    tasks = _tasks(training_id)
    if config is not None:
        if _rank(current_step(tasks)) >= _rank("extracted"):
            raise Conflict("the run config is settled once features are extracted: create a new training")
        if config:
            _check_run_config(config, training.target_sr)
    with job_errors():
        return runner().store.update_training(training_id, config=config).to_dict()


def delete_training(training_id: str, with_files: bool = False) -> None:
    """Forget the training (its tasks stay, unlinked) and, ``with_files``, remove its folder in logs/; the models
    it exported stay in assets/weights.
    """
    training = _training(training_id)
    _check_idle(_tasks(training_id))
    runner().store.delete_training(training_id)
    if with_files and _experiment(training).is_dir():
        shutil.rmtree(_experiment(training))


# --- steps --------------------------------------------------------------------------------------------------


def _step(training: Training, kind: str, argv: list[str], options: dict[str, Any], resource: str = "cpu") -> dict:
    return submit(kind, argv, {"experiment": training.name, **options}, resource, training.id)


def _ready(training_id: str, kind: str) -> tuple[Training, list[Task]]:
    """The training and its tasks, once no other step runs and ``kind``'s prerequisite is done."""
    training, tasks = _training(training_id), _tasks(training_id)
    _check_idle(tasks)
    _require(kind, tasks)
    return training, tasks


def start_preprocess(training_id: str, params: PreprocessParams | None = None) -> dict[str, Any]:
    """Cut the dataset into pieces at the training's rate."""
    params = (params or PreprocessParams()).validate()
    training, _ = _ready(training_id, "preprocess")
    argv = command_argv("preprocess", [training.name, str(_dataset(training.dataset_path))],
                        ["--sr", training.target_sr, *params.to_argv(), *_confinement()])
    return _step(training, "preprocess", argv, params.to_dict())


def preprocess_samples(training_id: str, k: int = 5) -> list[dict[str, str]]:
    """Up to ``k`` random pieces of the preprocessed data, to listen to before going on."""
    training = _training(training_id)
    if not 1 <= k <= 50:
        raise ValueError(f"k={k} must be between 1 and 50")
    if _rank(current_step(_tasks(training_id))) < _rank("preprocessed"):
        raise Conflict("there are no pieces yet: run the preprocess step first")
    return [{"name": path.name, "path": str(path)} for path in audition_samples(_experiment(training), k)]


def preprocess_sample_file(training_id: str, name: str) -> Path:
    """One preprocessed piece by file name."""
    folder = _experiment(_training(training_id)) / GT_WAVS
    path = folder / name
    if Path(name).name != name or not path.is_file():
        raise NotFound(f"no piece {name!r} in this training")
    return path


def preprocess_report(training_id: str) -> dict[str, Any] | None:
    """The dataset report of the last preprocessing (clips, pieces, durations, unreadable files), if any."""
    report = _experiment(_training(training_id)) / REPORT_FILE
    return json.loads(report.read_text()) if report.is_file() else None


def start_extract(training_id: str, params: ExtractParams | None = None) -> dict[str, Any]:
    """Pitch (for a model with pitch) and content features of the pieces."""
    params = (params or ExtractParams()).validate()
    training, _ = _ready(training_id, "extract")
    if embedder_override() is None:  # a missing pretrained file is an error now, not in the task
        require_asset("hubert_base")
    if training.if_f0 and params.f0_method == "rmvpe":
        require_asset("rmvpe")
    options = ["--version", training.version, *params.to_argv(), *([] if training.if_f0 else ["--no-f0"])]
    argv = command_argv("extract", [training.name], options + _config_argv(training))
    return _step(training, "extract", argv, params.to_dict(), resource_of(params.devices))


def _config_argv(training: Training) -> list[str]:
    """``--config FILE`` for a training with its own run config (written into the experiment), else nothing."""
    if not training.config:
        return []
    run_config = _experiment(training) / RUN_CONFIG_FILE
    run_config.parent.mkdir(parents=True, exist_ok=True)
    run_config.write_text(json.dumps(training.config, indent=2))
    return ["--config", str(run_config)]


def _pretrained(training: Training, part: str, choice: str | None) -> str | None:
    """A base model to fine-tune from: "auto" is the ecosystem's for the training's kind when present (else
    none), None or "" none, anything else a path inside the allowed roots.
    """
    if not choice:
        return None
    if choice != AUTO_BASE_MODEL:
        return str(client_path(choice))
    folder = "pretrained_v2" if training.version == "v2" else "pretrained"
    asset = find_asset(f"{folder}/{'f0' if training.if_f0 else ''}{part}{training.target_sr}")
    return str(asset.path()) if is_present(asset) else None


def start_train(training_id: str, params: TrainParams | None = None) -> dict[str, Any]:
    """Train (or go on training: the trainer continues from the latest checkpoint) up to epoch ``params.epochs``.
    The base models are resolved here (a client's path inside the allowed roots, "auto" to the file), so the task
    records what it trains from."""
    params = (params or TrainParams()).validate()
    training, _ = _ready(training_id, "train")
    params = params.replace(pretrained_g=_pretrained(training, "G", params.pretrained_g),
                            pretrained_d=_pretrained(training, "D", params.pretrained_d))
    argv = command_argv("train", [training.name], ["--sr", training.target_sr, "--version", training.version,
                                                   "--f0" if training.if_f0 else "--no-f0", *params.to_argv()])
    return _step(training, "train", argv, params.to_dict(), resource_of(params.devices))


def pause_training(training_id: str) -> dict[str, Any]:
    """Ask the running training task to save a checkpoint and stop; it becomes paused when it has."""
    _training(training_id)
    running = [t for t in _tasks(training_id) if t.kind in TRAIN_KINDS and t.status is TaskStatus.RUNNING]
    if not running:
        raise Conflict("no training task of this training is running")
    with job_errors():
        return runner().pause(running[-1].id).to_dict()


def resume_training(training_id: str) -> dict[str, Any]:
    """Run the last paused or interrupted training task again as a new task, from its latest checkpoint."""
    _training(training_id)
    tasks = _tasks(training_id)
    _check_idle(tasks)
    trained = [task for task in tasks if task.kind in TRAIN_KINDS]
    if not trained or trained[-1].status not in (TaskStatus.PAUSED, TaskStatus.INTERRUPTED):
        state = trained[-1].status if trained else "never started"
        raise Conflict(f"nothing to resume: the last training task is {state}")
    with job_errors():
        return runner().get(runner().resume(trained[-1].id)).to_dict()


def training_metrics(training_id: str, since_step: int | None = None, limit: int | None = None) -> list[dict]:
    """The losses by step (``since_step``: only the steps after it, for polling)."""
    _training(training_id)
    metrics = runner().store.metrics(training_id, since_step, limit)
    return [{"step": m.step, "epoch": m.epoch, **m.values, "created": m.created} for m in metrics]


async def stream_training(training_id: str, poll_s: float = 1.0) -> AsyncIterator[dict[str, Any]]:
    """The events of the training's tasks as they come: the latest task's from its first event, then those of
    each task started later. It never ends by itself: a listener stops when it has heard enough.
    """
    await asyncio.to_thread(_training, training_id)
    followed: str | None = None
    while True:
        tasks = await asyncio.to_thread(_tasks, training_id)
        if tasks and tasks[-1].id != followed:
            followed = tasks[-1].id
            async for event in stream_task(followed):
                yield event
        else:
            await asyncio.sleep(poll_s)


def start_index(training_id: str, params: IndexParams | None = None) -> dict[str, Any]:
    """Build the retrieval index of the extracted features (linked into assets/indices)."""
    params = (params or IndexParams()).validate()
    training, _ = _ready(training_id, "index")
    return _step(training, "index", command_argv("index", [training.name], params.to_argv()), params.to_dict())


def start_export(training_id: str, params: ExportParams | None = None) -> dict[str, Any]:
    """Write the small inference model of a checkpoint (default: the latest) as assets/weights/<export_name>.pth."""
    params = (params or ExportParams()).validate()
    training, _ = _ready(training_id, "export")
    checkpoints = _checkpoints(_experiment(training))
    if not checkpoints:
        raise Conflict("export needs a checkpoint: run the train step first")
    if params.checkpoint_name is not None and params.checkpoint_name not in checkpoints:
        raise ValueError(f"checkpoint_name {params.checkpoint_name!r} is not one of {', '.join(checkpoints)}")
    params = params.replace(export_name=check_model_name(params.export_name or training.name))
    if (get_paths().weights / f"{params.export_name}.pth").exists() and not params.overwrite:
        raise Conflict(f"a model named {params.export_name!r} exists: choose another export_name or overwrite it")
    return _step(training, "export", command_argv("export", [training.name], params.to_argv()), params.to_dict())


def start_oneclick(
    name: str, dataset_path: str, params: OneClickParams | None = None, config: dict[str, Any] | None = None,
    inference: ConvertParams | None = None,
) -> dict[str, Any]:
    """Every step in one task (`python -m rvc oneclick`), recorded as a training of the kind ``params`` asks for
    (sample rate, version, pitch) so that its metrics and files are found like a wizard's. ``config`` (a run
    config, see `create_training`) overrides the preset's model; ``inference`` the test conversion's parameters
    (default: the preset's pitch method, no noise).
    """
    require_command(ONECLICK_KIND)
    params = (params or OneClickParams()).validate()
    if inference is not None:
        inference = as_params(with_confined_f0_file(inference.to_dict()))
    created = create_training(name, params.sample_rate, params.f0, params.version, dataset_path, config=config)
    training = _training(created["id"])
    flags = [*params.to_argv(), *_config_argv(training), *_confinement()]
    flags += ["--inference-params", json.dumps(inference.to_dict())] if inference else []
    argv = command_argv(ONECLICK_KIND, [training.name, training.dataset_path], flags)
    options = params.to_dict() | {"inference": inference.to_dict() if inference else None}
    return _step(training, ONECLICK_KIND, argv, options, resource_of(params.devices))

