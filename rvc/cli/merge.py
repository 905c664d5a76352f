"""`python -m rvc merge A B --alpha 0.5 --output OUT.pth`: a model that is the weighted mean of two models."""

from __future__ import annotations

import argparse

from rvc.cli.common import run_step
from rvc.events import EventSink
from rvc.synth.tools import merge_models


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_a", metavar="A", help="the first inference model (.pth)")
    parser.add_argument("model_b", metavar="B", help="the second inference model (.pth)")
    parser.add_argument("--alpha", type=float, default=0.5, help="the weight of A, between 0 and 1 (default 0.5)")
    parser.add_argument("--output", required=True, help="the merged model's file (never over an existing one)")
    parser.add_argument("--info", default="", help="the merged model's info text")


def run(args: argparse.Namespace) -> int:
    def work(sink: EventSink) -> dict:
        path = merge_models(args.model_a, args.model_b, args.alpha, args.output, args.info)
        sink.artifact("model", str(path))
        return {"path": str(path)}

    return run_step("merge", work)
