"""Training-data steps: preprocess and extract throughput against the number of worker processes.

    .venv/bin/python benchmarks/bench_steps.py [--workers 1 2] [--f0-method rmvpe] [--copies 4]

Preprocesses the 30 clips of ../shared/data/voice_low/ (``--copies`` times, under other names, so the work
outweighs starting the workers) into a fresh experiment at 40k, then extracts pitch and
v2 features with the full-size HuBERT and RMVPE of bench_infer.py (reference weight rule), once per worker count,
each from scratch (the step records would otherwise reuse the work). Prints seconds, seconds of audio per second
of wall time, and the speed-up over one worker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CLIPS = Path(os.environ.get("RVC_SHARED_DIR", ROOT.parent / "shared")) / "data" / "voice_low"


def timed(step, *args, **kwargs) -> float:
    start = time.perf_counter()
    step(*args, **kwargs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--f0-method", default="rmvpe")
    parser.add_argument("--copies", type=int, default=4, help="how many times the 30 clips go into the dataset")
    args = parser.parse_args()
    from benchmarks.bench_infer import prepare
    from rvc.audio import load_audio
    from rvc.train.extract import extract
    from rvc.train.preprocess import preprocess

    home = prepare([])
    hubert, rmvpe = home / "assets" / "hubert" / "hubert_base.pt", home / "assets" / "rmvpe" / "rmvpe.pt"
    clips = sorted(CLIPS.glob("*.flac"))
    audio_s = args.copies * sum(len(load_audio(clip, 16000)) / 16000 for clip in clips)
    print(f"# {args.copies} x {len(clips)} clips, {audio_s:.1f} s of audio, {os.cpu_count()} CPUs, "
          f"f0 {args.f0_method}, full-size HuBERT and RMVPE")
    baseline = {}
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as folder:
            dataset, exp = Path(folder) / "dataset", Path(folder) / "bench"
            dataset.mkdir()
            for copy in range(args.copies):
                for clip in clips:
                    shutil.copy(clip, dataset / f"{copy}_{clip.name}")
            figures = {
                "preprocess": timed(preprocess, exp, dataset, "40k", n_proc=workers),
                "extract": timed(extract, exp, args.f0_method, "v2", "cpu", embedder_path=hubert, rmvpe_path=rmvpe,
                                 n_proc=workers),
            }
        for step, seconds in figures.items():
            baseline.setdefault(step, seconds)
            print(f"{step:10s} {workers} worker(s): {seconds:6.1f} s, {audio_s / seconds:5.1f} s of audio per s, "
                  f"{baseline[step] / seconds:.2f}x one worker")


if __name__ == "__main__":
    main()
