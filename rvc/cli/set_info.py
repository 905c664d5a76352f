"""`python -m rvc info MODEL --text TEXT`: set the info text stored in a small inference model."""

from __future__ import annotations

import argparse

from rvc.cli.common import run_step
from rvc.events import EventSink
from rvc.synth.tools import modify_info


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="the inference model (.pth), rewritten in place")
    parser.add_argument("--text", required=True, help="the new info text")


def run(args: argparse.Namespace) -> int:
    def work(sink: EventSink) -> dict:
        path = modify_info(args.model, args.text)
        sink.artifact("model", str(path))
        return {"path": str(path)}

    return run_step("info", work)
