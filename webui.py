"""Launch the rvc-webui: parse arguments, build the Blocks app from tabs/, mount the REST API, start the server.

Who may use it (see `rvc.api.auth`): on loopback the page is open unless logins are given; with `--share` or
another `--host` the page asks for a login (an `admin` password is generated and printed when none is given) and
the REST API for a token. `--guest` logins and the guest token may only convert, look, and follow or cancel their
own tasks; Gradio's file route serves a guest nothing from the server's folders (`tabs.file_guard`), and anyone
stored files only as media or downloads (`rvc.api.stored_content`); Gradio's upload route keeps to the upload
limit (`rvc.api.body_limit`). On loopback the server also refuses other Host names and cross-site requests
(`rvc.api.host_guard`).

The server process owns the job runner (`rvc.service.start_jobs`): it starts before the first request (marking
the tasks a dead server left running as interrupted) and stops at exit, on Ctrl-C or SIGTERM, ending the running
tasks (a training saves a checkpoint and pauses).
"""

from __future__ import annotations

import argparse
import signal
import threading

import gradio as gr
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.routing import Mount

import tabs
from rvc import service
from rvc.api import PREFIX, api_token, create_api
from rvc.api.auth import ADMIN_USER, Logins, Role, guest_token, parse_login, ui_logins
from rvc.api.body_limit import BodyLimit
from rvc.api.host_guard import HostGuard, allowed_hosts
from rvc.api.stored_content import StoredContent
from rvc.security import add_allowed_root
from tabs.common import is_admin, set_admins
from tabs.file_guard import FILE_ROUTES, GuestFileGuard

ADMIN_TABS = ("train", "oneclick")  # hidden from guests, whose calls there are refused anyway


def build_app() -> gr.Blocks:
    with gr.Blocks(title="RVC WebUI") as app:
        gr.Markdown(tabs.I18N("app.title"))
        for tab in tabs.TABS:
            tab.build()
        admin_tabs = [block for block in app.blocks.values() if isinstance(block, gr.Tab) and block.id in ADMIN_TABS]

        def show_admin_tabs(request: gr.Request) -> list[dict]:
            # "hidden", since a Tab updated to visible=False keeps its button (Gradio 6)
            return [gr.update(visible=True if is_admin(request) else "hidden")] * len(admin_tabs)

        app.load(show_admin_tabs, outputs=admin_tabs, api_name=False, show_progress="hidden")
    return app


def login(text: str) -> tuple[str, str]:
    """An argparse type: `USER:PASSWORD` as (user, password)."""
    try:
        return parse_login(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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
        "--auth", action="append", default=[], type=login, metavar="USER:PASSWORD",
        help="an admin login for the page (repeatable; with --share or another --host and none given, user "
             "'admin' gets a generated password, printed at start)",
    )
    parser.add_argument(
        "--guest", action="append", default=[], type=login, metavar="USER:PASSWORD",
        help="a guest login: may convert and look, not train, change, delete or download (repeatable)",
    )
    parser.add_argument(
        "--api-token", help="bearer token the REST API requires (default: none on loopback without logins; "
                            "otherwise one is generated and printed)",
    )
    parser.add_argument("--guest-token", help="a REST API token with the guest's rights (generated with --guest)")
    parser.add_argument(
        "--allowed-host", action="append", default=[], metavar="NAME",
        help="a host name the server answers to besides localhost (repeatable; checks the Host header on any "
             "--host; on loopback it is always checked)",
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


def access(args: argparse.Namespace) -> tuple[Logins | None, FastAPI]:
    """The page's logins and the REST API with its tokens; prints the passwords and tokens generated here."""
    logins, password = ui_logins(args.auth, args.guest, args.host, args.share)
    guest, guest_generated = guest_token(args.guest_token, bool(args.guest))
    token, generated = api_token(args.api_token, args.host, args.share, logins=bool(logins or guest))
    api = create_api(token, guest)
    if password:
        print(f"WebUI login: user '{ADMIN_USER}', password {password} (generated; --auth USER:PASSWORD sets one)",
              flush=True)
    if generated:
        print(f"REST API token (send 'Authorization: Bearer <token>' to {PREFIX}): {token}", flush=True)
    if guest_generated:
        print(f"REST API guest token (converts and lists models only): {guest}", flush=True)
    return logins, api


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    for folder in args.allowed_path:
        add_allowed_root(folder)
    try:
        logins, api = access(args)
    except ValueError as error:
        raise SystemExit(f"webui.py: error: {error}") from None
    set_admins(logins.users(Role.ADMIN) if logins else None)
    hosts = allowed_hosts(args.host, args.share, args.allowed_host)
    # Gradio takes outputs, sample pieces and models only from allowed paths (the RVC home's folders) into its
    # cache; by path it serves them to admins only.
    served = [*args.allowed_path, *map(str, service.served_roots())]
    middleware = [Middleware(HostGuard, allowed=hosts)] if hosts is not None else []
    # Gradio's routes take bodies within the upload limit only (the REST API counts its own uploads as they
    # stream), and its file route serves stored files as media or downloads, never as pages
    middleware += [Middleware(BodyLimit, limit_bytes=service.upload_limit_bytes, exempt=(f"{PREFIX}/",)),
                   Middleware(StoredContent, prefixes=FILE_ROUTES)]
    if logins:
        middleware.append(Middleware(GuestFileGuard, roots=served))
    try:
        service.start_jobs(args.max_cpu_jobs)
    except service.StoreOpenError as error:
        raise SystemExit(f"webui.py: error: {error}") from None
    app = build_app().queue()
    try:
        app.launch(
            server_name=args.host, server_port=args.port, share=args.share, i18n=tabs.I18N,
            auth=logins.check if logins else None, allowed_paths=served,
            app_kwargs={"routes": [Mount(PREFIX, app=api)], "middleware": middleware},
            num_workers=0,  # Gradio's extra file-serving workers would answer past the middleware above
            prevent_thread_lock=True,
        )
        wait_for_stop()
    finally:
        app.close()
        service.stop_jobs()


if __name__ == "__main__":
    main()
