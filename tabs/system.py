"""System tab: what the machine has (GPUs, CPU, memory, disk) refreshed while open, the pretrained files with
downloads, and the settings that persist."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr
import pandas as pd

from rvc import service
from tabs.common import admin_only, admin_view, follow_with_progress, size, user_errors
from tabs.i18n import t

REFRESH_S = 5
ALL_ASSETS = "all"
ASSET_COLUMNS = ["asset", "present", "size", "size ok", "path"]
SETTINGS = ("default_f0_method", "device", "upload_limit_mb", "allowed_paths", "compile_decoder")  # the form's order


def system_markdown(info: dict | None) -> str:
    if not info:
        return ""
    memory = f"{info['memory_used_mb'] / 1024:.1f} / {info['memory_total_mb'] / 1024:.1f} GB"
    disk = f"{info['disk_free_mb'] / 1024:.1f} GB free of {info['disk_total_mb'] / 1024:.1f} GB"
    lines = [
        "| Machine | |", "| --- | --- |",
        f"| CPU | {info['cpu_count']} cores · {info['cpu_percent']:.0f}% |",
        f"| RAM | {memory} |",
        f"| Disk | {disk} |",
    ]
    for gpu in info.get("gpus") or []:
        temperature = f" · {gpu['temperature_c']} °C" if gpu.get("temperature_c") is not None else ""
        lines.append(
            f"| GPU {gpu['index']} | {gpu['name']} · {gpu['memory_used_mb'] / 1024:.1f} / "
            f"{gpu['memory_total_mb'] / 1024:.1f} GB · {gpu['utilization_percent']}%{temperature} |"
        )
    nvidia = {f"cuda:{gpu['index']}" for gpu in info.get("gpus") or []}
    for accelerator in info.get("accelerators") or []:
        if accelerator["device"] not in nvidia:  # XPU, MPS (NVIDIA GPUs have their own rows above)
            lines.append(f"| {accelerator['device']} | {accelerator['name']} |")
    if not info.get("gpus") and not info.get("accelerators"):
        lines.append("| GPU | none found (training and conversion run on the CPU) |")
    return "\n".join(lines)


@user_errors
def system_info() -> dict:
    return service.get_system_info()


@user_errors
@admin_view(lambda: (pd.DataFrame([], columns=ASSET_COLUMNS), gr.update(choices=[], value=[])))
def asset_status() -> tuple[pd.DataFrame, dict]:
    assets = service.get_asset_status()
    rows = [[a["name"], "✅" if a["present"] else "—", size(a.get("size_bytes")),
             "" if a.get("size_ok") is None else ("yes" if a["size_ok"] else "no"), a["path"]] for a in assets]
    missing = [a["name"] for a in assets if not a["present"]]
    names = [ALL_ASSETS, *(a["name"] for a in assets)]
    chosen = missing if 0 < len(missing) < len(assets) else [ALL_ASSETS]
    return pd.DataFrame(rows, columns=ASSET_COLUMNS), gr.update(choices=names, value=chosen)


@user_errors
@admin_only
def download(names: list[str] | None,
             progress: gr.Progress = gr.Progress()) -> Iterator[tuple[str, str]]:  # noqa: B008
    """Download pretrained files as a job (hubert_base, rmvpe, pretrained base models)."""
    chosen = [name for name in names or [] if name != ALL_ASSETS] or None
    task = service.start_download(chosen)
    for view in follow_with_progress(task["id"], progress):
        yield view.markdown(), view.log_text


@user_errors
@admin_view(lambda: (gr.skip(),) * len(SETTINGS))
def get_settings() -> tuple:
    return _settings_form()


def _settings_form() -> tuple:
    settings = service.get_settings()
    settings["allowed_paths"] = "\n".join(settings["allowed_paths"])
    return tuple(settings[name] for name in SETTINGS)


@user_errors
@admin_only
def save_settings(default_f0_method: str, device: str, upload_limit_mb: float, allowed_paths: str,
                  compile_decoder: bool = False) -> tuple:
    folders = [line.strip() for line in (allowed_paths or "").splitlines() if line.strip()]
    service.update_settings(default_f0_method=default_f0_method, device=(device or "auto").strip(),
                            upload_limit_mb=int(upload_limit_mb), allowed_paths=folders,
                            compile_decoder=bool(compile_decoder))
    return ("Settings saved.", *_settings_form())


def build() -> None:
    with gr.Tab(t("system.tab"), id="system"):
        with gr.Row():
            overview = gr.Markdown(elem_id="system-overview")
            refresh = gr.Button(t("ui.refresh"), scale=0)
        with gr.Accordion(t("system.raw"), open=False):
            info = gr.JSON(label=t("system.tab"))
        timer = gr.Timer(REFRESH_S)

        with gr.Accordion(t("system.assets"), open=True):
            assets = gr.Dataframe(value=None, headers=ASSET_COLUMNS, interactive=False, wrap=True)
            with gr.Row():
                names = gr.Dropdown([ALL_ASSETS], value=[ALL_ASSETS], multiselect=True, allow_custom_value=True,
                                    label=t("system.download_names"), info=t("system.download_names_info"), scale=4)
                download_button = gr.Button(t("system.download"), scale=0)
            download_status = gr.Markdown()
            download_log = gr.Textbox(label=t("ui.log"), lines=4, max_lines=10, interactive=False)

        with gr.Accordion(t("system.settings"), open=True):
            with gr.Row():
                f0_method = gr.Dropdown(list(service.F0_METHODS), label=t("system.default_f0_method"))
                device = gr.Textbox(label=t("system.device"), info=t("system.device_info"))
                upload_limit = gr.Number(precision=0, minimum=1, label=t("system.upload_limit_mb"))
            allowed_paths = gr.Textbox(label=t("system.allowed_paths"), info=t("system.allowed_paths_info"), lines=3)
            compile_decoder = gr.Checkbox(
                False, label=t("system.compile_decoder"), info=t("system.compile_decoder_info")
            )
            save_button = gr.Button(t("system.save_settings"), variant="primary")
            settings_message = gr.Markdown(elem_id="system-settings-message")
        settings_fields = [f0_method, device, upload_limit, allowed_paths, compile_decoder]

        # on load: the machine, the assets and the settings; then the machine again every REFRESH_S seconds
        gr.on(triggers=None, fn=system_info, outputs=info, api_name=False, show_progress="hidden")
        refresh.click(system_info, outputs=info, api_name="system_info")
        timer.tick(system_info, outputs=info, api_name=False, show_progress="hidden", concurrency_limit=None)
        info.change(system_markdown, inputs=info, outputs=overview, api_name=False, show_progress="hidden")
        gr.on(triggers=None, fn=asset_status, outputs=[assets, names], api_name="asset_status")
        gr.on(triggers=None, fn=get_settings, outputs=settings_fields, api_name="get_settings")
        download_button.click(download, inputs=names, outputs=[download_status, download_log],
                              api_name="download_assets", show_progress_on=download_status,
                              concurrency_limit=None).then(
            asset_status, outputs=[assets, names], api_name=False)
        save_button.click(save_settings, inputs=settings_fields, outputs=[settings_message, *settings_fields],
                          api_name="save_settings")
