"""`python -m rvc onnx MODEL --output OUT.onnx`: the model as ONNX, for runtimes without PyTorch."""

from __future__ import annotations

import argparse

from rvc.cli.common import run_step
from rvc.events import EventSink


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="the inference model (.pth)")
    parser.add_argument("--output", required=True, help="the .onnx file to write")


def run(args: argparse.Namespace) -> int:
    def work(sink: EventSink) -> dict:
        from rvc.synth import load_synthesizer
        from rvc.synth.onnx_export import export_onnx

        path = export_onnx(load_synthesizer(args.model), args.output)
        sink.artifact("onnx", str(path))
        return {"path": str(path)}

    return run_step("onnx", work)
