"""One-click tab: a dataset, a name and a preset; one button runs every training step, then a test conversion."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr

from rvc import service
from tabs.common import admin_only, follow_with_progress, require, user_errors
from tabs.i18n import control, t
from tabs.train import dataset_path, run_config

DEFAULTS = service.OneClickParams()


@user_errors
@admin_only
def oneclick(
    name: str, files: list[str] | None, server_path: str, preset: str, config_path: str = "",
    epochs: float | None = None, sample_rate: str = DEFAULTS.sample_rate, version: str = DEFAULTS.version,
    f0: bool = DEFAULTS.f0, devices: str = DEFAULTS.devices,
    progress: gr.Progress = gr.Progress(),  # noqa: B008
) -> Iterator[tuple[str, str, str | None, list[str]]]:
    name = require(name, "Type a name for the new voice.")
    params = service.OneClickParams.from_dict({
        "preset": preset, "epochs": epochs or None, "sample_rate": sample_rate, "version": version, "f0": f0,
        "devices": (devices or "").strip() or DEFAULTS.devices,
    })
    task = service.start_oneclick(name, dataset_path(name, files, server_path), params, config=run_config(config_path))
    view = None
    for view in follow_with_progress(task["id"], progress):
        yield view.markdown(), view.log_text, None, []
    outputs = service.task_outputs(task["id"])
    audio = next((item["path"] for item in outputs if item["kind"] == "test_audio"), None)
    yield view.markdown(), view.log_text, audio, [item["path"] for item in outputs]


def build() -> None:
    with gr.Tab(t("oneclick.tab"), id="oneclick"):
        gr.Markdown(t("oneclick.intro"))
        with gr.Row():
            with gr.Column():
                name = gr.Textbox(label=t("oneclick.name"), info=t("oneclick.name_info"), elem_id="oneclick-name")
                files = gr.File(label=t("train.dataset_upload"), file_count="multiple", type="filepath")
                server_path = gr.Textbox(label=t("train.dataset_path"), info=t("train.dataset_path_info"),
                                         placeholder="/path/to/dataset", elem_id="oneclick-dataset-path")
                preset = gr.Radio(**control(service.OneClickParams, "preset", "oneclick.preset",
                                            elem_id="oneclick-preset"))
                with gr.Accordion(t("train.advanced"), open=False):
                    config_path = gr.Textbox("", label=t("train.config_path"), info=t("train.config_path_info"),
                                             elem_id="oneclick-config-path")
                    epochs = gr.Number(**control(service.OneClickParams, "epochs", "train.epochs", precision=0,
                                                 elem_id="oneclick-epochs"))
                    with gr.Row():
                        sample_rate = gr.Radio(**control(service.OneClickParams, "sample_rate", "train.target_sr"))
                        version = gr.Radio(**control(service.OneClickParams, "version", "train.version"))
                        f0 = gr.Checkbox(**control(service.OneClickParams, "f0", "train.if_f0"))
                    devices = gr.Textbox(**control(service.OneClickParams, "devices", "train.devices",
                                                   elem_id="oneclick-devices"))
                run = gr.Button(t("oneclick.run"), variant="primary")
            with gr.Column():
                status = gr.Markdown(elem_id="oneclick-status")
                test_audio = gr.Audio(type="filepath", label=t("oneclick.test_audio"), interactive=False,
                                      elem_id="oneclick-test-audio")
                outputs = gr.File(label=t("ui.download"), file_count="multiple", interactive=False,
                                  elem_id="oneclick-outputs")
        log = gr.Textbox(label=t("ui.log"), lines=10, max_lines=20, interactive=False, autoscroll=True)
        run.click(oneclick, inputs=[name, files, server_path, preset, config_path, epochs, sample_rate, version, f0,
                                    devices],
                  outputs=[status, log, test_audio, outputs],
                  api_name="oneclick", show_progress_on=status, concurrency_limit=None)
