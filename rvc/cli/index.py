"""`python -m rvc index EXP`: the retrieval index from an experiment's extracted features."""

from __future__ import annotations

import argparse

from rvc.cli.common import run_step
from rvc.train.index import train_index
from rvc.train.steps import experiment_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="EXP", help="experiment name (under RVC_HOME/logs) or folder")
    parser.add_argument("--n-cpu", type=int, help="CPU threads for k-means (default: all)")


def run(args: argparse.Namespace) -> int:
    return run_step("index", lambda sink: train_index(experiment_dir(args.experiment), sink, args.n_cpu))
