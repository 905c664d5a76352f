"""Inference tab: convert a recording (or a batch) into a model's voice, with every parameter of the ecosystem."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from rvc import service
from tabs.common import follow, follow_with_progress, require, require_admin, save_uploads, task_owner, user_errors
from tabs.i18n import control, t

INDEX_AUTO, INDEX_NONE = "auto", "none"
F0_COLUMNS = ["time_s", "f0_hz", "curve"]


def _index_choices() -> list[str]:
    return [INDEX_AUTO, INDEX_NONE, *service.list_index_files()]


def _index_arg(index: str | None) -> str | None:
    return None if index in (None, "", INDEX_NONE) else index


@user_errors
def refresh() -> tuple[dict, dict]:
    models = service.list_models()
    return gr.update(choices=models, value=models[0] if models else None), gr.update(choices=_index_choices())


@user_errors
def match_index(model: str | None) -> tuple[dict, str]:
    """The index the ecosystem's rule finds for the model (its name inside the index path), and what the model is."""
    if not model:
        return gr.update(choices=_index_choices(), value=INDEX_AUTO), ""
    matched = service.resolve_index(service.AUTO_INDEX, service.resolve_model(model))
    detail = service.model_detail(model)
    kind = " · ".join(str(v) for v in (detail.get("version"), detail.get("sample_rate"),
                                       "f0" if detail.get("f0") else "no f0" if detail.get("f0") is False else None)
                      if v)
    index_text = f"index `{Path(matched).name}`" if matched else "no matching index"
    info = f"**{model}** · {kind} · {index_text}" + (f"\n\n{detail['info']}" if detail.get("info") else "")
    return gr.update(choices=_index_choices(), value=str(matched) if matched else INDEX_NONE), info


def _params(*values: object) -> dict:
    """The page's parameter controls, in `ConvertParams`' field order (as `build` lays them out), by name."""
    return dict(zip(service.ConvertParams.names(), values, strict=True))


def timings_markdown(result: dict) -> str:
    rows = "\n".join(f"| {stage} | {seconds:.2f} s |" for stage, seconds in result["timings_s"].items())
    total = sum(result["timings_s"].values())
    index = Path(result["index"]).name if result.get("index") else "none"
    return (
        f"**{result['duration_s']:.1f} s at {result['sample_rate_hz']} Hz** (index: `{index}`)\n\n"
        f"| stage | time |\n| --- | --- |\n{rows}\n| **total** | **{total:.2f} s** |"
    )


def f0_frame(curves: dict | None) -> pd.DataFrame:
    """Long-format pitch curves for the plot: one row per (time, curve); unvoiced frames (0 Hz) left out."""
    rows = []
    curves = curves or {}
    for curve in ("input", "output"):
        for time_s, hz in zip(curves.get("time_s", []), curves.get(f"{curve}_hz", []), strict=False):
            if hz and hz > 0:
                rows.append((float(time_s), float(hz), curve))
    # typed even when empty: the plot takes its axes' kinds (numbers, not categories) from the first frame
    return pd.DataFrame(rows, columns=F0_COLUMNS).astype({"time_s": float, "f0_hz": float})


def _server_path(text: str | None, request: gr.Request | None) -> Path | None:
    """A file or folder on the server that an admin typed (a guest may only upload), inside the allowed roots."""
    if not (text or "").strip():
        return None
    require_admin(request)
    return service.client_path(text.strip())


@user_errors
def convert(
    audio_file: str | None, server_path: str, model: str | None, index: str, transpose: float, f0_method: str,
    index_rate: float, filter_radius: float, resample_sr: float, rms_mix_rate: float, protect: float, sid: float,
    noise_scale: float, f0_file: str | None, output_format: str,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way to receive a progress tracker)
    request: gr.Request | None = None,  # Gradio passes the call's request (who is asking)
) -> tuple[str, str, str, pd.DataFrame]:
    """A conversion task in the inference worker (in the Tasks tab, cancellable there; a crash of the worker fails
    the task, not the server), with the pitch curves of its input and output tracked there too."""
    owner = task_owner(request)
    source = save_uploads([audio_file], owner=owner)[0] if audio_file else _server_path(server_path, request)
    source = str(require(source, "Upload an audio file or enter a path on the server."))
    model = require(model, "Choose a model (put .pth files in assets/weights, then press Refresh).")
    params = _params(transpose, f0_method, index_rate, filter_radius, resample_sr, rms_mix_rate, protect, sid,
                     noise_scale, save_uploads([f0_file], owner=owner)[0] if f0_file else None)
    task = service.submit_conversion(source, model, params, _index_arg(index), output_format, owner=owner,
                                     f0_curves=True)
    for _ in follow_with_progress(task["id"], progress):
        pass
    done = service.get_task(task["id"], owner=owner)
    if done["status"] != "completed":
        raise gr.Error(f"The conversion {done['status']} (task {done['id']}): {done['error'] or 'no error given'}")
    result = done["result"]
    output = result["output_path"]
    return output, output, timings_markdown(result), f0_frame(result.get("f0_curves"))


def _batch_sources(files: list[str] | None, folder: str, request: gr.Request | None) -> list[str]:
    """Uploaded files (saved into the uploads folder, where jobs may read them) and a server folder's files."""
    sources = save_uploads(files or [], owner=task_owner(request))
    if (server_folder := _server_path(folder, request)) is not None:
        sources += [str(path) for path in service.collect_inputs(server_folder)]
    return require(sources or None, "Upload audio files or enter a folder on the server.")


@user_errors
def convert_batch(
    files: list[str] | None, folder: str, model: str | None, index: str, transpose: float, f0_method: str,
    index_rate: float, filter_radius: float, resample_sr: float, rms_mix_rate: float, protect: float, sid: float,
    noise_scale: float, f0_file: str | None, output_format: str,
    progress: gr.Progress = gr.Progress(),  # noqa: B008
    request: gr.Request | None = None,
):
    """One conversion task per file (they run in the inference worker, which keeps the model loaded)."""
    model = require(model, "Choose a model (put .pth files in assets/weights, then press Refresh).")
    params = _params(transpose, f0_method, index_rate, filter_radius, resample_sr, rms_mix_rate, protect, sid,
                     noise_scale, f0_file)
    params["f0_file"] = None  # a pitch curve belongs to one recording: single-file conversions only
    sources = _batch_sources(files, folder, request)
    tasks = [service.submit_conversion(path, model, params=params, index=_index_arg(index),
                                       output_format=output_format, owner=task_owner(request)) for path in sources]
    outputs: list[str] = []
    lines: list[str] = []
    for number, (source, task) in enumerate(zip(sources, tasks, strict=True)):
        name = Path(source).name
        for view in follow(task["id"]):
            progress((number + (view.fraction or 0)) / len(tasks), desc=f"{number + 1}/{len(tasks)} {name}")
            yield f"**{number + 1}/{len(tasks)}** {name}: {view.status}", "\n".join(lines), outputs
        if view.status == "completed":
            outputs += [item["path"] for item in service.task_outputs(task["id"])]
            lines.append(f"✅ {name}")
        else:
            lines.append(f"❌ {name}: {view.status} {view.error or ''}".rstrip())
    failed = sum(not line.startswith("✅") for line in lines)
    summary = f"**{len(tasks) - failed}/{len(tasks)} converted**" + (f", {failed} failed" if failed else "")
    yield summary, "\n".join(lines), outputs


def _control(name: str, **options: object) -> dict:
    """A conversion parameter's control (`ConvertParams`), labelled with the tab's words."""
    return control(service.ConvertParams, name, f"inference.{name}", **options)


def build() -> None:
    with gr.Tab(t("inference.tab"), id="inference"):
        with gr.Row():
            models = service.list_models()
            model = gr.Dropdown(models, value=models[0] if models else None, label=t("inference.model"),
                                info=t("inference.model_info"), scale=3, elem_id="inference-model",
                                allow_custom_value=True)
            index = gr.Dropdown(_index_choices(), value=INDEX_AUTO, label=t("inference.index"),
                                info=t("inference.index_info"), allow_custom_value=True, scale=3)
            refresh_button = gr.Button(t("ui.refresh"), scale=0)
        model_text = gr.Markdown()
        with gr.Accordion(t("inference.params"), open=True):
            with gr.Row():
                with gr.Column():
                    transpose = gr.Slider(**_control("transpose"))
                    f0_method = gr.Radio(**_control("f0_method",
                                                    elem_id="inference-f0-method"))
                    index_rate = gr.Slider(**_control("index_rate"))
                    protect = gr.Slider(**_control("protect"))
                    output_format = gr.Dropdown(list(service.OUTPUT_FORMATS), value=service.OUTPUT_FORMATS[0],
                                                label=t("inference.output_format"))
                with gr.Column():
                    filter_radius = gr.Slider(**_control("filter_radius"))
                    rms_mix_rate = gr.Slider(**_control("rms_mix_rate"))
                    resample_sr = gr.Dropdown(**_control("resample_sr",
                                                         allow_custom_value=True))
                    sid = gr.Number(**_control("sid", precision=0))
                    noise_scale = gr.Slider(**_control("noise_scale"))
                    f0_file = gr.File(label=t("inference.f0_file"), file_types=[".txt", ".csv"], type="filepath",
                                      height=120)
        params = [model, index, transpose, f0_method, index_rate, filter_radius, resample_sr, rms_mix_rate, protect,
                  sid, noise_scale, f0_file, output_format]

        with gr.Tabs():
            with gr.Tab(t("inference.single")):
                with gr.Row():
                    with gr.Column():
                        audio_file = gr.Audio(type="filepath", label=t("inference.input_audio"), sources=["upload"],
                                              elem_id="inference-input-audio")
                        server_path = gr.Textbox(label=t("inference.server_path"), placeholder="/path/to/song.flac")
                        run = gr.Button(t("inference.convert"), variant="primary")
                    with gr.Column():
                        output_audio = gr.Audio(type="filepath", label=t("inference.output_audio"), interactive=False,
                                                elem_id="inference-output-audio")
                        output_file = gr.File(label=t("ui.download"), interactive=False)
                        timings = gr.Markdown(elem_id="inference-timings")
                f0_plot = gr.LinePlot(f0_frame(None), x="time_s", y="f0_hz", color="curve",
                                      label=t("inference.f0_plot"), show_label=True, x_title="s", y_title="Hz",
                                      height=260)
            with gr.Tab(t("inference.batch")):
                with gr.Row():
                    with gr.Column():
                        batch_files = gr.File(label=t("inference.batch_files"), file_count="multiple", type="filepath")
                        batch_folder = gr.Textbox(label=t("inference.batch_folder"), placeholder="/path/to/folder")
                        run_batch = gr.Button(t("inference.convert_batch"), variant="primary")
                    with gr.Column():
                        batch_status = gr.Markdown()
                        batch_log = gr.Textbox(label=t("ui.log"), lines=6, max_lines=12, interactive=False)
                        batch_outputs = gr.File(label=t("ui.download"), file_count="multiple", interactive=False)

        refresh_button.click(refresh, outputs=[model, index], api_name="refresh_models")
        # on load (the first model) and whenever the model changes
        gr.on(triggers=None, fn=match_index, inputs=model, outputs=[index, model_text], api_name="match_index")
        run.click(convert, inputs=[audio_file, server_path, *params],
                  outputs=[output_audio, output_file, timings, f0_plot], api_name="convert")
        run_batch.click(convert_batch, inputs=[batch_files, batch_folder, *params],
                        outputs=[batch_status, batch_log, batch_outputs], api_name="convert_batch",
                        show_progress_on=batch_status, concurrency_limit=None)
