"""Launch the rvc-webui: parse arguments, build the Blocks app from tabs/, start the server."""

from __future__ import annotations

import argparse

import gradio as gr

from tabs import inference, system


def build_app() -> gr.Blocks:
    with gr.Blocks(title="RVC WebUI") as app:
        gr.Markdown("# RVC WebUI")
        inference.build()
        system.build()
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Retrieval-based Voice Conversion WebUI")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=7865)
    parser.add_argument("--share", action="store_true", help="create a public Gradio share link")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    build_app().queue().launch(server_name=args.host, server_port=args.port, share=args.share)


if __name__ == "__main__":
    main()
