"""Inference tab: convert a recording into a model's voice, with every parameter of the ecosystem."""

from __future__ import annotations

import gradio as gr

from rvc import service

INDEX_AUTO, INDEX_NONE = "auto", "none"


def _index_choices() -> list[str]:
    return [INDEX_AUTO, INDEX_NONE, *service.list_index_files()]


def _refresh() -> tuple[dict, dict]:
    models = service.list_models()
    return gr.update(choices=models, value=models[0] if models else None), gr.update(choices=_index_choices())


def _timings_markdown(result: dict) -> str:
    rows = "\n".join(f"| {stage} | {seconds:.2f} s |" for stage, seconds in result["timings_s"].items())
    index = result["index"] or "none"
    return (
        f"**{result['duration_s']:.1f} s at {result['sample_rate_hz']} Hz** (index: `{index}`)\n\n"
        f"| stage | time |\n| --- | --- |\n{rows}"
    )


def convert(
    audio_file: str | None,
    server_path: str,
    model: str | None,
    index: str,
    transpose: float,
    f0_method: str,
    index_rate: float,
    filter_radius: float,
    resample_sr: float,
    rms_mix_rate: float,
    protect: float,
    sid: float,
    noise_scale: float,
    f0_file: str | None,
    output_format: str,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way to receive a progress tracker)
) -> tuple[str, str, str]:
    source = audio_file
    if not source and (server_path or "").strip():
        try:
            source = service.client_path(server_path.strip())
        except (PermissionError, FileNotFoundError) as error:
            raise gr.Error(str(error)) from error
    if not source:
        raise gr.Error("Upload an audio file or enter a path on the server.")
    if not model:
        raise gr.Error("Choose a model (put .pth files in assets/weights, then press Refresh).")
    params = {
        "transpose": transpose, "f0_method": f0_method, "index_rate": index_rate, "filter_radius": filter_radius,
        "resample_sr": resample_sr, "rms_mix_rate": rms_mix_rate, "protect": protect, "sid": sid,
        "noise_scale": noise_scale, "f0_file": f0_file,
    }
    try:
        result = service.convert(
            source, model, params=params, index=None if index == INDEX_NONE else index,
            output_format=output_format, progress=lambda stage, done, total: progress(done / total, desc=stage),
        )
    except (ValueError, FileNotFoundError) as error:
        raise gr.Error(str(error)) from error
    return result["output_path"], result["output_path"], _timings_markdown(result)


def build() -> None:
    defaults = service.ConvertParams()
    with gr.Tab("Inference"):
        with gr.Row():
            model = gr.Dropdown(service.list_models(), label="Model", info="inference .pth in assets/weights")
            index = gr.Dropdown(_index_choices(), value=INDEX_AUTO, label="Index",
                                info="auto: the index whose name contains the model's")
            refresh = gr.Button("Refresh", scale=0)
        with gr.Row():
            with gr.Column():
                audio_file = gr.Audio(type="filepath", label="Input audio", sources=["upload"])
                server_path = gr.Textbox(label="…or a path on the server", placeholder="/path/to/song.flac")
                transpose = gr.Slider(-24, 24, value=defaults.transpose, step=1, label="Transpose (semitones)",
                                      info="+12 one octave up (male to female), -12 down")
                f0_method = gr.Radio(list(service.F0_METHODS), value=defaults.f0_method, label="Pitch method",
                                     info="rmvpe: best in most cases; pm: fastest; crepe: slow on CPU")
                index_rate = gr.Slider(0, 1, value=defaults.index_rate, step=0.01, label="Index rate",
                                       info="how much of the training voice's timbre the index brings")
                protect = gr.Slider(0, 0.5, value=defaults.protect, step=0.01, label="Protect",
                                    info="keeps consonants and breaths clear; 0.5 turns it off")
            with gr.Column():
                filter_radius = gr.Slider(0, 7, value=defaults.filter_radius, step=1, label="Filter radius",
                                          info="above 2: median filter on harvest/dio pitch")
                rms_mix_rate = gr.Slider(0, 1, value=defaults.rms_mix_rate, step=0.01, label="Volume envelope mix",
                                         info="0: follow the input's loudness; 1: the model's")
                resample_sr = gr.Slider(0, 48000, value=defaults.resample_sr, step=100, label="Resample output (Hz)",
                                        info="0 keeps the model's rate")
                sid = gr.Number(value=defaults.sid, precision=0, label="Speaker id")
                noise_scale = gr.Slider(0, 1, value=defaults.noise_scale, step=0.01, label="Noise scale",
                                        info="0 gives the same output on every run")
                f0_file = gr.File(label="Pitch curve file (optional)", file_types=[".txt", ".csv"], type="filepath")
                output_format = gr.Dropdown(["wav", "flac", "mp3", "m4a"], value="wav", label="Output format")
        run = gr.Button("Convert", variant="primary")
        with gr.Row():
            output_audio = gr.Audio(type="filepath", label="Output", interactive=False)
            output_file = gr.File(label="Download", interactive=False)
        timings = gr.Markdown()

        refresh.click(_refresh, outputs=[model, index], api_name="refresh_models")
        run.click(
            convert,
            inputs=[audio_file, server_path, model, index, transpose, f0_method, index_rate, filter_radius,
                    resample_sr, rms_mix_rate, protect, sid, noise_scale, f0_file, output_format],
            outputs=[output_audio, output_file, timings],
            api_name="convert",
        )
