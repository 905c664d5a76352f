"""Models tab: the voice models in assets/weights with their metadata; import, rename, delete, info, merge,
small model from a training checkpoint, ONNX export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import pandas as pd

from rvc import service
from tabs.common import admin_only, admin_view, follow_with_progress, for_json, require, size, user_errors
from tabs.i18n import t
from tabs.train import experiment_names, find_training

COLUMNS = ["model", "version", "sample rate", "f0", "info", "size", "index"]


def models_table() -> pd.DataFrame:
    rows = [
        [m["model_id"], m.get("version") or "", m.get("sample_rate") or "",
         "" if m.get("f0") is None else ("yes" if m["f0"] else "no"),
         m.get("error") or m.get("info") or "", size(m.get("size_bytes")),
         Path(m["index_path"]).name if m.get("index_path") else ""]
        for m in service.list_models_detailed()
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def _model_ids() -> list[str]:
    return [m["model_id"] for m in service.list_models_detailed()]


@user_errors
def refresh(selected: str | None = None) -> tuple:
    """The table and the three model pickers (keeping the selection when the model still exists)."""
    ids = _model_ids()
    keep = selected if selected in ids else (ids[0] if ids else None)
    return (models_table(), gr.update(choices=ids, value=keep), gr.update(choices=ids), gr.update(choices=ids))


def select_row(table: pd.DataFrame, event: gr.SelectData) -> str | None:
    row = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
    return str(table.iloc[row, 0]) if table is not None and 0 <= row < len(table) else None


@user_errors
def show(model: str | None) -> tuple[dict, str, str]:
    """The model's metadata, its info text (editable) and its name (to rename)."""
    if not model:
        return {}, "", ""
    detail = service.model_detail(model)
    return for_json(detail), detail.get("info") or "", model


@user_errors
@admin_only
def rename(model: str | None, new_name: str) -> tuple:
    model = require(model, "Choose a model first.")
    renamed = service.rename_model(model, require(new_name, "Type the new name."))
    return (f"Renamed `{model}` to `{renamed['model_id']}`.", *refresh(renamed["model_id"]))


@user_errors
@admin_only
def delete(model: str | None, confirmed: bool) -> tuple:
    model = require(model, "Choose a model first.")
    if not confirmed:
        raise gr.Error("Tick 'yes, delete' to confirm: the file is removed from assets/weights.")
    service.delete_model(model)
    return (f"Deleted `{model}`.", gr.update(value=False), *refresh())


@user_errors
@admin_only
def set_info(model: str | None, info: str) -> tuple[str, dict]:
    model = require(model, "Choose a model first.")
    detail = service.set_model_info(model, info or "")
    return f"Saved the info of `{model}`.", for_json(detail)


@user_errors
@admin_only
def merge(model_a: str | None, model_b: str | None, alpha: float, name: str, info: str) -> tuple:
    model_a = require(model_a, "Choose model A.")
    model_b = require(model_b, "Choose model B.")
    merged = service.merge_models(model_a, model_b, float(alpha), require(name, "Name the merged model."), info or "")
    return (f"Merged into `{merged.get('model_id', name)}`.", *refresh(merged.get("model_id")))


@user_errors
@admin_only
def export_onnx(model: str | None) -> tuple[str, str]:
    result = service.export_onnx(require(model, "Choose a model first."))
    return f"Exported `{Path(result['path']).name}`.", result["path"]


@user_errors
@admin_only
def import_model(url: str, progress: gr.Progress = gr.Progress()) -> Iterator[tuple[str, str]]:  # noqa: B008
    task = service.import_model(require(url, "Paste the URL of a .pth or .zip (Hugging Face, direct link)."))
    for view in follow_with_progress(task["id"], progress):
        yield view.markdown(), view.log_text


@user_errors
@admin_view(lambda: gr.update(choices=[], value=None))
def training_checkpoints(experiment: str | None) -> dict:
    training = find_training(experiment)
    checkpoints = list((training or {}).get("checkpoints") or [])
    return gr.update(choices=checkpoints, value=checkpoints[-1] if checkpoints else None)


@user_errors
@admin_only
def extract_small(experiment: str | None, checkpoint: str | None, name: str,
                  progress: gr.Progress = gr.Progress()) -> Iterator[tuple[str, list[str]]]:  # noqa: B008
    """The small inference model of a training checkpoint (the original's "extract small model")."""
    training = find_training(require(experiment, "Choose an experiment."))
    if training is None:
        raise gr.Error(f"No experiment named {experiment!r}.")
    params = service.ExportParams(checkpoint_name=require(checkpoint, "Choose a checkpoint."),
                                  export_name=(name or "").strip() or None)
    task = service.start_export(training["id"], params)
    view = None
    for view in follow_with_progress(task["id"], progress):
        yield view.markdown(), []
    yield view.markdown(), [item["path"] for item in service.task_outputs(task["id"])]


@user_errors
@admin_view(lambda: gr.update(choices=[]))
def experiments() -> dict:
    return gr.update(choices=experiment_names())


def build() -> None:
    with gr.Tab(t("models.tab"), id="models"):
        with gr.Row():
            import_url = gr.Textbox(label=t("models.import_url"), info=t("models.import_url_info"), scale=4,
                                    placeholder="https://huggingface.co/.../model.zip")
            import_button = gr.Button(t("models.import"), scale=0)
        import_status = gr.Markdown()
        import_log = gr.Textbox(label=t("ui.log"), lines=3, max_lines=8, interactive=False, visible=True)
        with gr.Row():
            table = gr.Dataframe(value=None, headers=COLUMNS, interactive=False, label=t("models.list"),
                                 show_label=True, wrap=True, scale=4)
        refresh_button = gr.Button(t("ui.refresh"))
        message = gr.Markdown(elem_id="models-message")
        with gr.Row():
            with gr.Column():
                model = gr.Dropdown([], label=t("models.selected"), info=t("models.selected_info"),
                                    allow_custom_value=True)
                detail = gr.JSON(label=t("models.detail"))
            with gr.Column():
                with gr.Group():
                    new_name = gr.Textbox(label=t("models.new_name"))
                    rename_button = gr.Button(t("models.rename"))
                with gr.Group():
                    info = gr.Textbox(label=t("models.info"), info=t("models.info_info"), lines=2)
                    info_button = gr.Button(t("models.save_info"))
                with gr.Group():
                    onnx_button = gr.Button(t("models.export_onnx"))
                    onnx_file = gr.File(label=t("ui.download"), interactive=False)
                with gr.Group():
                    confirm = gr.Checkbox(value=False, label=t("models.confirm_delete"))
                    delete_button = gr.Button(t("models.delete"), variant="stop")
        with gr.Accordion(t("models.merge"), open=False):
            with gr.Row():
                model_a = gr.Dropdown([], label=t("models.model_a"), allow_custom_value=True)
                model_b = gr.Dropdown([], label=t("models.model_b"), allow_custom_value=True)
                alpha = gr.Slider(0, 1, value=0.5, step=0.01, label=t("models.alpha"), info=t("models.alpha_info"))
            with gr.Row():
                merged_name = gr.Textbox(label=t("models.merged_name"))
                merged_info = gr.Textbox(label=t("models.info"))
            merge_button = gr.Button(t("models.merge_button"))
        with gr.Accordion(t("models.extract_small"), open=False):
            with gr.Row():
                experiment = gr.Dropdown([], label=t("train.experiment"), allow_custom_value=True)
                checkpoint = gr.Dropdown([], label=t("train.checkpoint"), allow_custom_value=True)
                small_name = gr.Textbox(label=t("train.export_name"), info=t("train.export_name_info"))
            small_button = gr.Button(t("models.extract_small_button"))
            small_status = gr.Markdown()
            small_files = gr.File(label=t("ui.download"), file_count="multiple", interactive=False)

        pickers = [table, model, model_a, model_b]
        gr.on(triggers=None, fn=refresh, outputs=pickers, api_name=False).then(
            experiments, outputs=experiment, api_name=False)
        refresh_button.click(refresh, inputs=model, outputs=pickers, api_name="list_models")
        table.select(select_row, inputs=table, outputs=model, api_name=False)
        model.change(show, inputs=model, outputs=[detail, info, new_name], api_name="model_detail")
        import_button.click(import_model, inputs=import_url, outputs=[import_status, import_log],
                            api_name="import_model", show_progress_on=import_status, concurrency_limit=None).then(
            refresh, inputs=model, outputs=pickers, api_name=False)
        rename_button.click(rename, inputs=[model, new_name], outputs=[message, *pickers], api_name="rename_model")
        delete_button.click(delete, inputs=[model, confirm], outputs=[message, confirm, *pickers],
                            api_name="delete_model")
        info_button.click(set_info, inputs=[model, info], outputs=[message, detail], api_name="set_model_info")
        onnx_button.click(export_onnx, inputs=model, outputs=[message, onnx_file], api_name="export_onnx")
        merge_button.click(merge, inputs=[model_a, model_b, alpha, merged_name, merged_info],
                           outputs=[message, *pickers], api_name="merge_models")
        experiment.focus(experiments, outputs=experiment, api_name=False)
        experiment.change(training_checkpoints, inputs=experiment, outputs=checkpoint, api_name=False)
        small_button.click(extract_small, inputs=[experiment, checkpoint, small_name],
                           outputs=[small_status, small_files], api_name="extract_small_model",
                           show_progress_on=small_status, concurrency_limit=None).then(
            refresh, inputs=model, outputs=pickers, api_name=False)
