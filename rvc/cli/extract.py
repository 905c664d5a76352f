"""`python -m rvc extract EXP --f0-method rmvpe --version v2 --devices 0-1|cpu`: pitch and content features of
the preprocessed pieces, then filelist.txt, the mute files and config.json (see rvc.train.extract).

The sample rate comes from the preprocess step (``--sr`` only for experiments preprocessed elsewhere); a rerun
computes only missing or stale outputs.
"""

from __future__ import annotations

import argparse

from rvc.cli.common import run_step
from rvc.events import EventSink
from rvc.train.extract import extract
from rvc.train.params import ExtractParams
from rvc.train.preprocess import SAMPLE_RATES_HZ
from rvc.train.steps import experiment_dir
from rvc.vocabulary import VERSIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="EXP", help="experiment name (under RVC_HOME/logs) or folder")
    ExtractParams.add_arguments(parser)
    parser.add_argument("--no-f0", action="store_true", help="a model without pitch: extract features only")
    parser.add_argument("--version", choices=VERSIONS, default="v2", help="v1: 256-d, v2: 768-d features")
    parser.add_argument("--n-proc", type=int, help="worker threads for work done on CPU (default: one per core)")
    parser.add_argument("--embedder", help="HuBERT/ContentVec file or folder (default: $RVC_EMBEDDER, hubert_base)")
    parser.add_argument("--rmvpe", help="rmvpe.pt (default: assets/rmvpe/rmvpe.pt)")
    parser.add_argument("--config", help="run config to use as config.json (default: the built-in for version/rate)")
    parser.add_argument("--sr", choices=tuple(SAMPLE_RATES_HZ), help="model sample rate (default: preprocessing's)")
    parser.add_argument("--speaker-id", type=int, default=0, help="speaker id written in filelist.txt")
    parser.add_argument("--seed", type=int, help="seed of the filelist's shuffle (default: random)")


def run(args: argparse.Namespace) -> int:
    return run_step("extract", lambda sink: _extract(args, ExtractParams.from_args(args), sink))


def _extract(args: argparse.Namespace, params: ExtractParams, sink: EventSink) -> dict:
    return extract(
        experiment_dir(args.experiment), None if args.no_f0 else params.f0_method, args.version, params.devices,
        sink, args.embedder, args.rmvpe, args.n_proc,
        sample_rate=args.sr, config_file=args.config, speaker_id=args.speaker_id, seed=args.seed,
    )
