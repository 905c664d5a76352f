"""`python -m rvc export EXP --checkpoint G_1000.pth --name MyVoice`: the small model into assets/weights
(`--checkpoint-name` and `--export-name` are the same options, as `ExportParams` names them)."""

from __future__ import annotations

import argparse

from rvc.cli.common import run_step
from rvc.events import EventSink
from rvc.train.export import export_model
from rvc.train.params import ExportParams
from rvc.train.steps import experiment_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="EXP", help="experiment name (under RVC_HOME/logs) or folder")
    ExportParams.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    def export(sink: EventSink) -> dict:
        params = ExportParams.from_args(args)
        result = export_model(experiment_dir(args.experiment), params.checkpoint_name, params.export_name,
                              params.overwrite)
        sink.artifact("model", result["model_path"])
        return result

    return run_step("export", export)
