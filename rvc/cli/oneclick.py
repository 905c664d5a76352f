"""`python -m rvc oneclick NAME DATASET --preset fast|standard|high`: every training step, then a test conversion."""

from __future__ import annotations

import argparse
import json

from rvc.cli.common import add_confinement, run_step
from rvc.events import EventSink
from rvc.infer import ConvertParams
from rvc.service.oneclick import one_click
from rvc.train.params import OneClickParams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="experiment and model name")
    parser.add_argument("dataset", metavar="DATASET", help="folder of audio clips, or one long recording")
    OneClickParams.add_arguments(parser)
    parser.add_argument("--config", help="run config (the original's train/data/model JSON) instead of the built-in")
    parser.add_argument("--inference-params", type=json.loads, metavar="JSON",
                        help='the test conversion\'s parameters as a JSON object, e.g. \'{"transpose": 12}\'')
    add_confinement(parser)


def run(args: argparse.Namespace) -> int:
    def work(sink: EventSink) -> dict:
        inference = ConvertParams.from_dict(args.inference_params) if args.inference_params is not None else None
        return one_click(args.name, args.dataset, OneClickParams.from_args(args), args.config, sink, inference,
                         args.confine_to)

    return run_step("oneclick", work)
