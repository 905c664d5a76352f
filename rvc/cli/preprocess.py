"""`python -m rvc preprocess EXP DATASET --sr 40k`: cut a dataset into training pieces (see rvc.train.preprocess).

EXP is an experiment name (a folder under RVC_HOME/logs) or a path; DATASET a folder of clips or one recording.
The server adds `--confine-to` for each folder it may read, so that a link in a dataset cannot lead elsewhere.
The result event carries the dataset report; a rerun only processes new or changed files.
"""

from __future__ import annotations

import argparse
import os

from rvc.cli.common import add_confinement, run_step
from rvc.train.params import PreprocessParams
from rvc.train.preprocess import SAMPLE_RATES_HZ, preprocess
from rvc.train.steps import experiment_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="EXP", help="experiment name (under RVC_HOME/logs) or folder")
    parser.add_argument("dataset", metavar="DATASET", help="folder of audio clips, or one long recording")
    parser.add_argument("--sr", choices=tuple(SAMPLE_RATES_HZ), default="40k", help="model sample rate")
    PreprocessParams.add_arguments(parser)
    parser.add_argument("--config", help="run config (the original's train/data/model JSON) to use as config.json")
    add_confinement(parser)


def run(args: argparse.Namespace) -> int:
    return run_step("preprocess", lambda sink: preprocess(
        experiment_dir(args.experiment), args.dataset, args.sr,
        PreprocessParams.from_args(args).n_proc or os.cpu_count() or 1, sink, args.config, args.confine_to))
