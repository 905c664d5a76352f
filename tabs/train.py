"""Train tab: the four-step wizard (preprocess, extract, train, index + export) of one experiment.

Each step is a job; its panel unlocks when the step before it is done, as the store records it, so re-opening
the page (or restarting the server) shows where an experiment stands and follows the step that is running.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from rvc import service
from tabs.common import TaskView, admin_only, admin_view, follow_with_progress, require, save_uploads, user_errors
from tabs.i18n import control, t

STEPS = ("none", "preprocessed", "extracted", "trained", "indexed", "exported")
TASK_STEPS = ("preprocess", "extract", "train", "index", "export")  # the wizard's jobs, in order
SAMPLES = 5  # pieces of the preprocessed dataset offered to listen to
LOSSES = ("loss_g", "loss_d", "loss_mel", "loss_kl")
PLOT_EVERY_S = 2.0  # the loss plot is re-read from the metrics store at most this often while training


# --- reading the store ----------------------------------------------------------------------------------------

def experiment_names() -> list[str]:
    return [item["name"] for item in service.list_trainings(limit=500)["items"]]


def find_training(name: str | None) -> dict | None:
    """The stored training of that experiment name (with its tasks and checkpoints), or None for a new one."""
    if not (name or "").strip():
        return None
    for item in service.list_trainings(limit=500)["items"]:
        if item["name"] == name.strip():
            return service.get_training(item["id"])
    return None


def _existing(name: str | None) -> dict:
    training = find_training(require(name, "Choose an experiment or type a new name."))
    if training is None:
        raise gr.Error(f"No experiment named {name!r}: start with step 1 (preprocess).")
    return training


def step_number(training: dict | None) -> int:
    """How many wizard steps are done (0 for a new experiment)."""
    return STEPS.index(training["current_step"]) if training and training["current_step"] in STEPS else 0


def latest_tasks(training: dict | None) -> dict[str, dict]:
    """step -> the latest task of that step ("tasks" may come as a mapping or as a list of task dicts)."""
    tasks = (training or {}).get("tasks") or {}
    if isinstance(tasks, dict):
        return {step: task for step, task in tasks.items() if task}
    return {task.get("kind", ""): task for task in tasks}


def metrics_frames(rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The metrics store's rows as the loss plot (long format: step, value, series) and the lr plot."""
    losses = [(row["step"], float(row[key]), key) for row in rows for key in LOSSES if row.get(key) is not None]
    rates = [(row["step"], float(row["lr"])) for row in rows if row.get("lr") is not None]
    # typed even when empty: the plot takes its axes' kinds (numbers, not categories) from the first frame
    return (pd.DataFrame(losses, columns=["step", "value", "series"]).astype({"step": int, "value": float}),
            pd.DataFrame(rates, columns=["step", "lr"]).astype({"step": int, "lr": float}))


def report_markdown(report: dict | None) -> str:
    if not report:
        return ""
    rows = "\n".join(
        f"| {key} | {value if not isinstance(value, (dict, list)) else json.dumps(value)[:200]} |"
        for key, value in report.items()
    )
    return f"| | |\n| --- | --- |\n{rows}"


def summary_markdown(training: dict | None) -> str:
    if training is None:
        return "New experiment: fill in step 1 and press **Preprocess**."
    done = step_number(training)
    steps = " → ".join(("**" + s + "**") if i < done else s for i, s in enumerate(TASK_STEPS))
    running = [f"{step} is {task['status']}" for step, task in latest_tasks(training).items()
               if task.get("status") in ("queued", "running")]
    text = (f"**{training['name']}** · {training['version']} {training['target_sr']} "
            f"{'f0' if training['if_f0'] else 'no f0'} · {steps}")
    if training.get("checkpoints"):
        text += f" · {len(training['checkpoints'])} checkpoint(s)"
    if training.get("exported_models"):
        text += " · exported: " + ", ".join(f"`{Path(str(m)).name}`" for m in training["exported_models"])
    return text + (f"\n\n▶️ {', '.join(running)}" if running else "")


# --- the wizard's state on the page ---------------------------------------------------------------------------

def wizard_updates(training: dict | None) -> list:
    """Panels and buttons for [summary, extract, train, pause, resume, index, export, checkpoint, step2, step3,
    step4]: a step's button unlocks when the step before it is done."""
    done = step_number(training)
    tasks = latest_tasks(training)
    training_task = tasks.get("train") or {}
    running = training_task.get("status") in ("queued", "running")
    resumable = training_task.get("status") in ("paused", "interrupted", "failed", "cancelled")
    checkpoints = list((training or {}).get("checkpoints") or [])
    return [
        summary_markdown(training),
        gr.update(interactive=done >= 1),
        gr.update(interactive=done >= 2 and not running),
        gr.update(interactive=done >= 2),
        gr.update(interactive=done >= 2 and (resumable or bool(checkpoints))),
        gr.update(interactive=done >= 2),
        gr.update(interactive=bool(checkpoints) or done >= 3),
        gr.update(choices=checkpoints, value=checkpoints[-1] if checkpoints else None),
        gr.update(open=done >= 1),
        gr.update(open=done >= 2),
        gr.update(open=done >= 3 or bool(checkpoints)),
    ]


def _samples(training: dict | None) -> list:
    pieces = service.preprocess_samples(training["id"], k=SAMPLES) if training and step_number(training) else []
    paths = [piece["path"] for piece in pieces][:SAMPLES]
    return [gr.update(value=path, visible=True) for path in paths] + [gr.update(value=None, visible=False)] * (
        SAMPLES - len(paths))


def _training_view(training: dict | None) -> list:
    """Everything the wizard shows of an experiment (None: of no experiment)."""
    if training is None:
        fields = [gr.update()] * 4
        report = ""
        losses, rates = metrics_frames([])
    else:
        fields = [training["target_sr"], training["version"], bool(training["if_f0"]), training["dataset_path"]]
        report = report_markdown(service.preprocess_report(training["id"]))
        losses, rates = metrics_frames(service.training_metrics(training["id"]))
    statuses = [_task_status(latest_tasks(training).get(step)) for step in TASK_STEPS]
    return [*fields, *wizard_updates(training), report, *_samples(training), losses, rates, *statuses]


@user_errors
@admin_view(lambda: _training_view(None))
def load_training(name: str | None) -> list:
    """Everything the wizard shows of an experiment: its settings, step panels, report, samples and loss plot."""
    return _training_view(find_training(name))


def _task_status(task: dict | None) -> str:
    if not task:
        return ""
    progress = task.get("progress") or {}
    view = TaskView(task_id=task["id"], kind=task.get("kind", ""), status=task["status"],
                    stage=progress.get("stage", ""), done=progress.get("done", 0), total=progress.get("total", 0),
                    error=task.get("error"))
    return view.markdown()


@user_errors
@admin_view(lambda: gr.update(choices=[], value=None))
def refresh_experiments(name: str | None = None) -> dict:
    names = experiment_names()
    return gr.update(choices=names, value=name if name else (names[0] if names else None))


@user_errors
@admin_view(lambda: (service.TrainParams().pretrained_g, service.TrainParams().pretrained_d))
def pretrained_for(target_sr: str, version: str, if_f0: bool) -> tuple[str, str]:
    """The base models for the rate/version/f0 when downloaded; else "auto" (use them once present, else none)."""
    found = service.pretrained_for(target_sr, version, bool(if_f0))
    auto = service.TrainParams().pretrained_g
    return found["pretrained_g"] or auto, found["pretrained_d"] or auto


# --- the steps ------------------------------------------------------------------------------------------------

def _follow(task: dict, progress: gr.Progress | None) -> Iterator[tuple[str, str]]:
    for view in follow_with_progress(task["id"], progress):
        yield view.markdown(), view.log_text


def dataset_path(name: str, files: list[str] | None, server_path: str) -> str:
    """A folder (or recording) on the server, or the uploaded files saved together into `uploads/dataset-<name>/`
    (a folder even for one file, so that more recordings can be added to it later)."""
    if (server_path or "").strip():
        return str(service.client_path(server_path.strip()))
    saved = save_uploads(files or [], folder=f"dataset-{name}")
    if not saved:
        raise gr.Error("Upload the dataset or enter its folder on the server.")
    return str(Path(saved[0]).parent)


def add_recordings(training: dict, files: list[str]) -> None:
    """More uploaded recordings for an experiment whose dataset is a folder of uploads: saved beside the others,
    so that preprocessing again cuts just them."""
    folder = Path(training["dataset_path"])
    uploads = Path(service.client_path("uploads"))
    if not (folder.is_dir() and folder.parent == uploads):
        raise gr.Error(f"This experiment's dataset is {folder}: put the new recordings there on the server, or start "
                       "a new experiment for them.")
    save_uploads(files, folder=folder.name)


def run_config(config_path: str) -> dict | None:
    """The advanced run config: a config.json on the server (train/data/model sections), or None."""
    if not (config_path or "").strip():
        return None
    path = service.client_path(config_path.strip())
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise gr.Error(f"{path} is not valid JSON: {error}") from error


@user_errors
@admin_only
def preprocess(
    name: str | None, target_sr: str, version: str, if_f0: bool, files: list[str] | None, server_path: str,
    n_proc: float | None, config_path: str,
    progress: gr.Progress = gr.Progress(),  # noqa: B008
) -> Iterator[tuple[str, str]]:
    """Step 1: create the experiment (or reuse it, to preprocess again) and cut the dataset into pieces."""
    name = require(name, "Type a name for the experiment.")
    config = run_config(config_path)
    training = find_training(name)
    if training is None:
        dataset = dataset_path(name, files, server_path)
        training = service.create_training(name, target_sr, bool(if_f0), version, dataset, config=config)
    else:
        if config is not None:
            service.update_training(training["id"], config=config)
        if files:
            add_recordings(training, files)
    task = service.start_preprocess(training["id"], service.PreprocessParams.from_dict({"n_proc": n_proc or None}))
    yield from _follow(task, progress)


@user_errors
@admin_only
def extract(name: str | None, f0_method: str, devices: str,
            progress: gr.Progress = gr.Progress()) -> Iterator[tuple[str, str]]:  # noqa: B008
    """Step 2: pitch and content features of every piece."""
    params = service.ExtractParams.from_dict({"f0_method": f0_method, "devices": (devices or "").strip() or "auto"})
    task = service.start_extract(_existing(name)["id"], params)
    yield from _follow(task, progress)


def _follow_training(training_id: str, task: dict, progress: gr.Progress | None) -> Iterator[tuple]:
    """Status, log and the two plots, the plots re-read from the metrics store as new steps are logged."""
    rows = service.training_metrics(training_id)
    read_at = time.monotonic()
    for view in follow_with_progress(task["id"], progress):
        if view.metric is not None and (time.monotonic() - read_at >= PLOT_EVERY_S or not view.running):
            since = rows[-1]["step"] if rows else None
            seen = {row["step"] for row in rows}
            rows += [row for row in service.training_metrics(training_id, since_step=since) if row["step"] not in seen]
            read_at = time.monotonic()
        yield (view.markdown(), view.log_text, *metrics_frames(rows))


@user_errors
@admin_only
def train(
    name: str | None, epochs: float, batch_size: float, save_every: float, latest_only: bool, cache_in_gpu: bool,
    save_small_each: bool, pretrained_g: str, pretrained_d: str, devices: str,
    progress: gr.Progress = gr.Progress(),  # noqa: B008
) -> Iterator[tuple]:
    """Step 3: train (or continue training up to the new epoch count)."""
    training = _existing(name)
    params = service.TrainParams.from_dict({
        "epochs": epochs, "batch_size": batch_size, "save_every": save_every, "latest_only": latest_only,
        "cache_in_gpu": cache_in_gpu, "save_small_each": save_small_each,
        "pretrained_g": (pretrained_g or "").strip() or None, "pretrained_d": (pretrained_d or "").strip() or None,
        "devices": (devices or "").strip() or "auto",
    })
    task = service.start_train(training["id"], params)
    yield from _follow_training(training["id"], task, progress)


@user_errors
@admin_only
def pause(name: str | None) -> str:
    task = service.pause_training(_existing(name)["id"])
    return f"⏸️ pause requested ({task['status']}): the trainer stops after the current step and saves."


@user_errors
@admin_only
def resume(name: str | None, progress: gr.Progress = gr.Progress()) -> Iterator[tuple]:  # noqa: B008
    training = _existing(name)
    yield from _follow_training(training["id"], service.resume_training(training["id"]), progress)


@user_errors
@admin_only
def build_index(name: str | None, progress: gr.Progress = gr.Progress()) -> Iterator[tuple[str, str]]:  # noqa: B008
    """Step 4a: the retrieval index of the experiment's features."""
    yield from _follow(service.start_index(_existing(name)["id"]), progress)


@user_errors
@admin_only
def export(name: str | None, checkpoint: str | None, export_name: str, overwrite: bool,
           progress: gr.Progress = gr.Progress()) -> Iterator[tuple[str, str, list[str]]]:  # noqa: B008
    """Step 4b: the small inference model of a checkpoint, into assets/weights."""
    params = service.ExportParams.from_dict({"checkpoint_name": checkpoint or None,
                                             "export_name": (export_name or "").strip() or None,
                                             "overwrite": overwrite})
    task = service.start_export(_existing(name)["id"], params)
    status, log = "", ""
    for status, log in _follow(task, progress):
        yield status, log, []
    yield status, log, [item["path"] for item in service.task_outputs(task["id"])]


@user_errors
@admin_view(lambda: [gr.skip()] * (len(TASK_STEPS) + 3))
def follow_running(name: str | None, progress: gr.Progress = gr.Progress()) -> Iterator[list]:  # noqa: B008
    """On opening an experiment: follow the step that is running, if any (outputs as `load_training`'s tail)."""
    training = find_training(name)
    yield [gr.skip()] * (len(TASK_STEPS) + 3)
    for step, task in latest_tasks(training).items():
        if task.get("status") not in ("queued", "running") or step not in TASK_STEPS:
            continue
        slot = TASK_STEPS.index(step)
        for status, log, *plots in _follow_training(training["id"], task, progress):
            statuses = [gr.skip()] * len(TASK_STEPS)
            statuses[slot] = status
            yield [*statuses, log, *(plots if step == "train" else [gr.skip(), gr.skip()])]
        return


# --- layout ---------------------------------------------------------------------------------------------------

def _train_control(name: str, **options: object) -> dict:
    """A training parameter's control (`TrainParams`), labelled with the tab's words."""
    return control(service.TrainParams, name, f"train.{name}", **options)


def _dataset_panel() -> SimpleNamespace:
    """Step 1: the model's kind, the dataset (uploads or a server folder) and preprocessing."""
    with gr.Accordion(t("train.step1"), open=True):
        with gr.Row():
            target_sr = gr.Radio(**control(service.OneClickParams, "sample_rate", "train.target_sr"))
            version = gr.Radio(**control(service.OneClickParams, "version", "train.version"))
            if_f0 = gr.Checkbox(**control(service.OneClickParams, "f0", "train.if_f0"))
        with gr.Row():
            files = gr.File(label=t("train.dataset_upload"), file_count="multiple", type="filepath")
            path = gr.Textbox(label=t("train.dataset_path"), info=t("train.dataset_path_info"),
                              elem_id="train-dataset-path", placeholder="/path/to/dataset")
        with gr.Accordion(t("train.advanced"), open=False):
            with gr.Row():
                n_proc = gr.Number(**control(service.PreprocessParams, "n_proc", "train.n_proc", precision=0,
                                             minimum=0))
                config_path = gr.Textbox(label=t("train.config_path"), info=t("train.config_path_info"),
                                         elem_id="train-config-path")
        button = gr.Button(t("train.preprocess"), variant="primary")
        status = gr.Markdown(elem_id="train-status-preprocess")
        report = gr.Markdown()
        with gr.Row():
            samples = [gr.Audio(type="filepath", interactive=False, visible=False, label=f"{i + 1}")
                       for i in range(SAMPLES)]
    return SimpleNamespace(target_sr=target_sr, version=version, if_f0=if_f0, files=files, path=path,
                           n_proc=n_proc, config_path=config_path, button=button, status=status, report=report,
                           samples=samples)


def _extract_panel(default_f0_method: str) -> SimpleNamespace:
    """Step 2: pitch and content features."""
    with gr.Accordion(t("train.step2"), open=False) as panel:
        with gr.Row():
            f0_method = gr.Radio(**control(service.ExtractParams, "f0_method", "train.f0_method",
                                           value=default_f0_method, elem_id="train-f0-method"))
            devices = gr.Textbox(**control(service.ExtractParams, "devices", "train.devices"))
        button = gr.Button(t("train.extract"), variant="primary", interactive=False)
        status = gr.Markdown(elem_id="train-status-extract")
    return SimpleNamespace(panel=panel, f0_method=f0_method, devices=devices, button=button, status=status)


def _train_panel() -> SimpleNamespace:
    """Step 3: the training's parameters (`TrainParams`), its buttons and the loss and learning-rate plots."""
    with gr.Accordion(t("train.step3"), open=False) as panel:
        with gr.Row():
            epochs = gr.Number(**_train_control("epochs", precision=0, elem_id="train-epochs"))
            batch_size = gr.Number(**_train_control("batch_size", precision=0, elem_id="train-batch-size"))
            save_every = gr.Number(**_train_control("save_every", precision=0, elem_id="train-save-every"))
            devices = gr.Textbox(**_train_control("devices"))
        with gr.Row():
            latest_only = gr.Checkbox(**_train_control("latest_only"))
            cache_in_gpu = gr.Checkbox(**_train_control("cache_in_gpu"))
            save_small_each = gr.Checkbox(**_train_control("save_small_each"))
        with gr.Row():
            pretrained_g = gr.Textbox(**_train_control("pretrained_g", info=t("train.pretrained_info")))
            pretrained_d = gr.Textbox(**_train_control("pretrained_d", info=t("train.pretrained_info")))
        with gr.Row():
            button = gr.Button(t("train.train"), variant="primary", interactive=False)
            pause_button = gr.Button(t("train.pause"), interactive=False)
            resume_button = gr.Button(t("train.resume"), interactive=False)
        status = gr.Markdown(elem_id="train-status-train")
        with gr.Row():
            losses, rates = metrics_frames([])
            loss_plot = gr.LinePlot(losses, x="step", y="value", color="series", label=t("train.loss_plot"),
                                    show_label=True, height=280, elem_id="train-loss-plot")
            lr_plot = gr.LinePlot(rates, x="step", y="lr", label=t("train.lr_plot"), show_label=True,
                                  height=280, y_axis_format=".1e")
    return SimpleNamespace(
        panel=panel, inputs=[epochs, batch_size, save_every, latest_only, cache_in_gpu, save_small_each,
                             pretrained_g, pretrained_d, devices],
        pretrained=[pretrained_g, pretrained_d], button=button, pause_button=pause_button,
        resume_button=resume_button, status=status, loss_plot=loss_plot, lr_plot=lr_plot)


def _export_panel() -> SimpleNamespace:
    """Step 4: the index, and the small model of a checkpoint."""
    with gr.Accordion(t("train.step4"), open=False) as panel:
        with gr.Row():
            index_button = gr.Button(t("train.index"), interactive=False)
        index_status = gr.Markdown(elem_id="train-status-index")
        with gr.Row():
            checkpoint = gr.Dropdown(**control(service.ExportParams, "checkpoint_name", "train.checkpoint",
                                               choices=[], allow_custom_value=True))
            export_name = gr.Textbox(**control(service.ExportParams, "export_name", "train.export_name",
                                               elem_id="train-export-name"))
            overwrite = gr.Checkbox(**control(service.ExportParams, "overwrite", "train.overwrite"))
        button = gr.Button(t("train.export"), variant="primary", interactive=False)
        status = gr.Markdown(elem_id="train-status-export")
        exported = gr.File(label=t("ui.download"), file_count="multiple", interactive=False)
    return SimpleNamespace(panel=panel, index_button=index_button, index_status=index_status, checkpoint=checkpoint,
                           export_name=export_name, overwrite=overwrite, button=button, status=status,
                           exported=exported)


def build() -> None:
    settings = service.get_settings()
    with gr.Tab(t("train.tab"), id="train"):
        gr.Markdown(t("train.intro"))
        with gr.Row():
            experiment = gr.Dropdown([], value=None, allow_custom_value=True, label=t("train.experiment"),
                                     info=t("train.experiment_info"), scale=4, elem_id="train-experiment")
            refresh_button = gr.Button(t("ui.refresh"), scale=0)
        summary = gr.Markdown(elem_id="train-summary")
        data = _dataset_panel()
        features = _extract_panel(settings.get("default_f0_method", "rmvpe"))
        training = _train_panel()
        final = _export_panel()
        log = gr.Textbox(label=t("ui.log"), lines=10, max_lines=20, interactive=False, autoscroll=True,
                         elem_id="train-log")
        _wire(experiment, refresh_button, summary, data, features, training, final, log)


def _wire(experiment: gr.Dropdown, refresh_button: gr.Button, summary: gr.Markdown, data: SimpleNamespace,
          features: SimpleNamespace, training: SimpleNamespace, final: SimpleNamespace, log: gr.Textbox) -> None:
    """The wizard's events: each step's button, and the whole wizard reloaded from the store after each."""
    statuses = [data.status, features.status, training.status, final.index_status, final.status]
    wizard = [summary, features.button, training.button, training.pause_button, training.resume_button,
              final.index_button, final.button, final.checkpoint, features.panel, training.panel, final.panel]
    plots = [training.loss_plot, training.lr_plot]
    loaded = [data.target_sr, data.version, data.if_f0, data.path, *wizard, data.report, *data.samples, *plots,
              *statuses]

    def reload(event):
        return event.then(load_training, inputs=experiment, outputs=loaded, api_name=False)

    gr.on(triggers=None, fn=refresh_experiments, outputs=experiment, api_name=False).then(
        load_training, inputs=experiment, outputs=loaded, api_name=False).then(
        follow_running, inputs=experiment, outputs=[*statuses, log, *plots], api_name=False,
        concurrency_limit=None)
    refresh_button.click(refresh_experiments, inputs=experiment, outputs=experiment, api_name="list_trainings")
    experiment.input(load_training, inputs=experiment, outputs=loaded, api_name="load_training")
    kind = [data.target_sr, data.version, data.if_f0]
    gr.on(triggers=[data.target_sr.change, data.version.change, data.if_f0.change], fn=pretrained_for,
          inputs=kind, outputs=training.pretrained, api_name="pretrained_for")
    reload(data.button.click(
        preprocess, inputs=[experiment, *kind, data.files, data.path, data.n_proc, data.config_path],
        outputs=[data.status, log], api_name="preprocess", show_progress_on=data.status, concurrency_limit=None))
    reload(features.button.click(extract, inputs=[experiment, features.f0_method, features.devices],
                                 outputs=[features.status, log], api_name="extract",
                                 show_progress_on=features.status, concurrency_limit=None))
    train_outputs = [training.status, log, *plots]
    reload(training.button.click(train, inputs=[experiment, *training.inputs], outputs=train_outputs,
                                 api_name="train", show_progress_on=training.status, concurrency_limit=None))
    training.pause_button.click(pause, inputs=experiment, outputs=training.status, api_name="pause_training")
    reload(training.resume_button.click(resume, inputs=experiment, outputs=train_outputs,
                                        api_name="resume_training", show_progress_on=training.status,
                                        concurrency_limit=None))
    reload(final.index_button.click(build_index, inputs=experiment, outputs=[final.index_status, log],
                                    api_name="build_index", show_progress_on=final.index_status,
                                    concurrency_limit=None))
    reload(final.button.click(export, inputs=[experiment, final.checkpoint, final.export_name, final.overwrite],
                              outputs=[final.status, log, final.exported], api_name="export_model",
                              show_progress_on=final.status, concurrency_limit=None))
