"""`python -m rvc train EXP`: train (or continue training) the voice of the experiment `logs/EXP/`.

The model kind (--sr, --version, --f0/--no-f0) defaults to what the experiment's config.json records; giving
one that contradicts it is an error. Running the same command again continues from the latest checkpoint;
SIGTERM, Ctrl-C or a `logs/EXP/pause.request` file pause it at the current step (exit code 0).
"""

from __future__ import annotations

import argparse
import traceback
from pathlib import Path

from rvc.assets import pretrained_pair
from rvc.config import get_paths
from rvc.events import EventSink
from rvc.synth import CheckpointError
from rvc.synth.config import SAMPLE_RATES_HZ
from rvc.train.params import AUTO_BASE_MODEL, TrainParams
from rvc.train.run_config import RunConfig, load_run_config, prepare_experiment_config
from rvc.train.trainer import train
from rvc.vocabulary import VERSIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="EXP", help="experiment name (folder under logs/) or a folder path")
    parser.add_argument("--sr", choices=tuple(SAMPLE_RATES_HZ), help="sample rate (default: the experiment's)")
    parser.add_argument("--version", choices=VERSIONS, help="model version (default: the experiment's)")
    pitch = parser.add_mutually_exclusive_group()
    pitch.add_argument("--f0", dest="f0", action="store_true", default=None, help="model with pitch guidance")
    pitch.add_argument("--no-f0", dest="f0", action="store_false", help="model without pitch guidance")
    TrainParams.add_arguments(parser)
    parser.add_argument("--config", help="config.json to train with (only before the first checkpoint)")
    parser.add_argument("--name", help="name of the exported model in assets/weights (default: EXP)")


def experiment_dir(name: str) -> Path:
    """A name is looked up under logs/; anything with a path separator is taken as a folder."""
    candidate = Path(name)
    return candidate if len(candidate.parts) > 1 or candidate.is_absolute() else get_paths().logs / name


def _base_model(choice: str | None, part: str, config: RunConfig) -> str | None:
    """The base model to fine-tune from: "auto" is the ecosystem's file for the experiment's kind when present."""
    if choice != AUTO_BASE_MODEL:
        return choice
    pair = pretrained_pair(config.version, config.synth.sample_rate_tag, config.f0)
    return str(pair[0 if part == "G" else 1]) if pair else None


def run(args: argparse.Namespace) -> int:
    sink = EventSink()
    exp_dir = experiment_dir(args.experiment)
    try:
        if not exp_dir.is_dir():
            raise FileNotFoundError(f"experiment folder {exp_dir} not found: run preprocessing first")
        params = TrainParams.from_args(args)
        config = load_run_config(prepare_experiment_config(exp_dir, args.sr, args.version, args.f0, args.config))
        base = {part: _base_model(choice, part, config) for part, choice in (("G", params.pretrained_g),
                                                                                ("D", params.pretrained_d))}
        train(
            exp_dir, params.epochs, params.batch_size, params.save_every, latest_only=params.latest_only,
            cache_in_gpu=params.cache_in_gpu, save_small_each=params.save_small_each, pretrained_g=base["G"],
            pretrained_d=base["D"], devices=params.devices, sink=sink, model_name=args.name,
        )
    except (ValueError, FileNotFoundError, CheckpointError) as error:
        sink.error(str(error))
        return 2
    except Exception as error:  # a crash mid-training: report it as an event, keep the checkpoints
        sink.error(f"training failed: {error}", traceback.format_exc())
        return 1
    finally:
        sink.close()
    return 0
