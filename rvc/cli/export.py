"""`python -m rvc export EXP --checkpoint G_1000.pth --name MyVoice`: the small model into assets/weights."""

from __future__ import annotations

import argparse

from rvc.cli.common import run_step
from rvc.train.export import export_model
from rvc.train.steps import experiment_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="EXP", help="experiment name (under RVC_HOME/logs) or folder")
    parser.add_argument("--checkpoint", help="G_*.pth file name in the experiment (default: the latest)")
    parser.add_argument("--name", help="model name in assets/weights (default: the experiment's)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing model of that name")


def run(args: argparse.Namespace) -> int:
    def export(sink):
        result = export_model(experiment_dir(args.experiment), args.checkpoint, args.name, args.overwrite)
        sink.artifact("model", result["model_path"])
        return result

    return run_step("export", export)
