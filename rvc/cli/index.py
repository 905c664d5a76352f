"""`python -m rvc index EXP`: the retrieval index from an experiment's extracted features."""

from __future__ import annotations

import argparse

from rvc.cli.common import run_step
from rvc.train.index import train_index
from rvc.train.params import IndexParams
from rvc.train.steps import experiment_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="EXP", help="experiment name (under RVC_HOME/logs) or folder")
    IndexParams.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    params = IndexParams.from_args(args)
    return run_step("index", lambda sink: train_index(experiment_dir(args.experiment), sink, params.n_cpu))
