"""`python -m rvc oneclick NAME DATASET --preset fast|standard|high`: every training step, then a test conversion."""

from __future__ import annotations

import argparse

from rvc.cli.common import run_step
from rvc.service.oneclick import PRESETS, one_click


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="experiment and model name")
    parser.add_argument("dataset", metavar="DATASET", help="folder of audio clips, or one long recording")
    parser.add_argument("--preset", choices=tuple(PRESETS), default="fast")
    parser.add_argument("--sr", choices=("32k", "40k", "48k"), default="40k")
    parser.add_argument("--version", choices=("v1", "v2"), default="v2")
    parser.add_argument("--epochs", type=int, help="override the preset's epoch count")
    parser.add_argument("--config", help="run config (the original's train/data/model JSON) instead of the built-in")
    parser.add_argument("--devices", default="cpu", help="cpu, 0 or 0-1")


def run(args: argparse.Namespace) -> int:
    return run_step("oneclick", lambda sink: one_click(
        args.name, args.dataset, args.preset, args.sr, args.version, args.epochs, args.config, args.devices, sink))
