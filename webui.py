"""Launch the rvc-webui: parse arguments, build the Blocks app from tabs/, mount the REST API, start the server.

The server process owns the job runner (`rvc.service.start_jobs`): it starts before the first request (marking
the tasks a dead server left running as interrupted) and stops at exit, on Ctrl-C or SIGTERM, ending the running
tasks (a training saves a checkpoint and pauses).
"""

from __future__ import annotations

import argparse
import signal
import threading

import gradio as gr
from starlette.routing import Mount

import tabs
from rvc import service
from rvc.api import PREFIX, api_token, create_api
from rvc.security import add_allowed_root


def build_app() -> gr.Blocks:
    with gr.Blocks(title="RVC WebUI") as app:
        gr.Markdown(tabs.I18N("app.title"))
        for tab in tabs.TABS:
            tab.build()
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Retrieval-based Voice Conversion WebUI")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=7865)
    parser.add_argument("--share", action="store_true", help="create a public Gradio share link")
    parser.add_argument(
        "--allowed-path", action="append", default=[], metavar="FOLDER",
        help="a folder clients may read besides RVC_HOME's assets/, logs/, uploads/ and outputs/ (repeatable)",
    )
    parser.add_argument(
        "--api-token", help="bearer token the REST API requires (default: none on loopback; with --share or "
                            "another --host, one is generated and printed)",
    )
    parser.add_argument("--max-cpu-jobs", type=int, default=1, help="tasks that may run on the CPU at once")
    return parser.parse_args(argv)


def wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    for folder in args.allowed_path:
        add_allowed_root(folder)
    token, generated = api_token(args.api_token, args.host, args.share)
    if generated:
        print(f"REST API token (send 'Authorization: Bearer <token>' to {PREFIX}): {token}", flush=True)
    service.start_jobs(args.max_cpu_jobs)
    app = build_app().queue()
    try:
        app.launch(
            server_name=args.host, server_port=args.port, share=args.share, i18n=tabs.I18N,
            # Gradio serves outputs, sample pieces and models only from allowed paths: the RVC home's folders.
            allowed_paths=[*args.allowed_path, *map(str, service.served_roots())],
            app_kwargs={"routes": [Mount(PREFIX, app=create_api(token))]}, prevent_thread_lock=True,
        )
        wait_for_stop()
    finally:
        app.close()
        service.stop_jobs()


if __name__ == "__main__":
    main()
