"""System tab: what the machine has (GPUs, CPU, memory, disk)."""

from __future__ import annotations

import gradio as gr

from rvc import service


def build() -> None:
    with gr.Tab("System"):
        info = gr.JSON(label="System")
        refresh = gr.Button("Refresh")
        refresh.click(service.get_system_info, outputs=info, api_name="system_info")
