"""Training speed of the full-size model (v2 40k, f0) on this machine: seconds per step at given batch sizes.

    .venv/bin/python benchmarks/bench_train.py [--batch-sizes 1 4] [--steps 3] [--devices cpu]

Builds a synthetic experiment under benchmarks/.cache/ (pieces of 3.5-3.7 s, the length preprocessing cuts,
with the standard 40k config), then times whole training steps (discriminator and generator updates, loss
values measured as on a logged step) after one warm-up step. Only the steps are timed, not data loading.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / ".cache"
PIECES = 8


def experiment() -> Path:
    """The full-size experiment (built once)."""
    sys.path.insert(0, str(ROOT))
    from tests.unit.train.tiny_experiment import make_experiment

    exp = CACHE / "train_v2_40k"
    if not (exp / "filelist.txt").is_file():
        shutil.rmtree(exp, ignore_errors=True)
        config = json.loads((ROOT / "configs" / "v1" / "40k.json").read_text())
        make_experiment(CACHE, exp.name, pieces=PIECES, config={**config, "version": "v2", "if_f0": 1},
                        seconds=(3.5, 3.7))
    return exp


def seconds_per_step(exp: Path, batch_size: int, steps: int, devices: str) -> float:
    from rvc.events import EventSink
    from rvc.train.distributed import parse_devices
    from rvc.train.pause import PauseWatch
    from rvc.train.trainer import TrainingSession, TrainJob

    weights = Path(tempfile.mkdtemp())
    job = TrainJob(exp, 1, batch_size, 1, False, False, False, None, None, "bench", weights)
    session = TrainingSession(job, parse_devices(devices), 0, EventSink(json_lines=True), PauseWatch(exp))
    batches = list(session.batches.epoch(1))
    session.train_step(batches[0], measure=True)  # warm-up: allocator, kernels, caches
    timings = []
    for index in range(steps):
        start = time.perf_counter()
        session.train_step(batches[index % len(batches)], measure=True)
        if session.device.type == "cuda":
            import torch

            torch.cuda.synchronize(session.device)
        timings.append(time.perf_counter() - start)
    shutil.rmtree(weights, ignore_errors=True)
    return sum(timings) / len(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per batch size (after one warm-up)")
    parser.add_argument("--devices", default="cpu", help="cpu or one GPU index")
    args = parser.parse_args()
    import torch

    exp = experiment()
    print(f"full-size v2 40k f0, {args.devices}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    for batch_size in args.batch_sizes:
        print(f"batch {batch_size}: {seconds_per_step(exp, batch_size, args.steps, args.devices):.2f} s/step")


if __name__ == "__main__":
    main()
