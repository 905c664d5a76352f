"""`python -m rvc oneclick NAME DATASET --preset fast|standard|high`: every training step, then a test conversion."""

from __future__ import annotations

import argparse

from rvc.cli.common import run_step
from rvc.service.oneclick import one_click
from rvc.train.params import OneClickParams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="experiment and model name")
    parser.add_argument("dataset", metavar="DATASET", help="folder of audio clips, or one long recording")
    OneClickParams.add_arguments(parser)
    parser.add_argument("--config", help="run config (the original's train/data/model JSON) instead of the built-in")


def run(args: argparse.Namespace) -> int:
    params = OneClickParams.from_args(args)
    return run_step("oneclick", lambda sink: one_click(args.name, args.dataset, params, args.config, sink))
