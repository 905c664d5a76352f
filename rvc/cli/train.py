"""`python -m rvc train EXP`: train (or continue training) the voice of the experiment `logs/EXP/`.

The model kind (--sr, --version, --f0/--no-f0) defaults to what the experiment's config.json records; giving
one that contradicts it is an error. Running the same command again continues from the latest checkpoint;
SIGTERM, Ctrl-C or a `logs/EXP/pause.request` file pause it at the current step (exit code 0).
"""

from __future__ import annotations

import argparse
import traceback
from pathlib import Path

from rvc.config import get_paths
from rvc.events import EventSink
from rvc.synth import CheckpointError
from rvc.synth.config import SAMPLE_RATES_HZ
from rvc.train.run_config import prepare_experiment_config
from rvc.train.trainer import train


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="EXP", help="experiment name (folder under logs/) or a folder path")
    parser.add_argument("--sr", choices=tuple(SAMPLE_RATES_HZ), help="sample rate (default: the experiment's)")
    parser.add_argument("--version", choices=("v1", "v2"), help="model version (default: the experiment's)")
    pitch = parser.add_mutually_exclusive_group()
    pitch.add_argument("--f0", dest="f0", action="store_true", default=None, help="model with pitch guidance")
    pitch.add_argument("--no-f0", dest="f0", action="store_false", help="model without pitch guidance")
    parser.add_argument("--epochs", type=int, default=20, help="train up to this epoch, counted from 1 (default 20)")
    parser.add_argument("--batch-size", type=int, default=8, help="pieces per step and per GPU (default 8)")
    parser.add_argument("--save-every", type=int, default=5, help="checkpoint every N epochs (default 5)")
    parser.add_argument("--latest-only", action="store_true", help="keep only the latest G_/D_ checkpoint pair")
    parser.add_argument("--cache-in-gpu", action="store_true", help="keep the whole dataset on the device")
    parser.add_argument(
        "--save-small-each", action="store_true", help="also export NAME_eEPOCH_sSTEP.pth at every checkpoint"
    )
    parser.add_argument("--pretrained-g", help="base G to fine-tune from (e.g. assets/pretrained_v2/f0G40k.pth)")
    parser.add_argument("--pretrained-d", help="base D to fine-tune from (e.g. assets/pretrained_v2/f0D40k.pth)")
    parser.add_argument("--devices", default="cpu", help="cpu, a GPU (0) or several (0-1) (default cpu)")
    parser.add_argument("--config", help="config.json to train with (only before the first checkpoint)")
    parser.add_argument("--name", help="name of the exported model in assets/weights (default: EXP)")


def experiment_dir(name: str) -> Path:
    """A name is looked up under logs/; anything with a path separator is taken as a folder."""
    candidate = Path(name)
    return candidate if len(candidate.parts) > 1 or candidate.is_absolute() else get_paths().logs / name


def run(args: argparse.Namespace) -> int:
    sink = EventSink()
    exp_dir = experiment_dir(args.experiment)
    try:
        if not exp_dir.is_dir():
            raise FileNotFoundError(f"experiment folder {exp_dir} not found: run preprocessing first")
        prepare_experiment_config(exp_dir, args.sr, args.version, args.f0, args.config)
        train(
            exp_dir, args.epochs, args.batch_size, args.save_every, latest_only=args.latest_only,
            cache_in_gpu=args.cache_in_gpu, save_small_each=args.save_small_each, pretrained_g=args.pretrained_g,
            pretrained_d=args.pretrained_d, devices=args.devices, sink=sink, model_name=args.name,
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
