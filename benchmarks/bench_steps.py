"""Training-data steps: preprocess and extract throughput against the number of workers.

    .venv/bin/python benchmarks/bench_steps.py [--workers 1 2] [--f0-method rmvpe] [--copies 16] [--repeats 1]
                                               [--preprocess-only]

Preprocesses the 30 clips of ../shared/data/voice_low/ (``--copies`` times, under other names: 16 copies are
27 minutes of audio, a usual dataset, where the start of preprocessing's worker processes no longer outweighs
their share) into a fresh experiment at 40k, then extracts pitch and v2 features with the full-size HuBERT and
RMVPE of bench_infer.py (reference weight rule), once per worker count, each from scratch (the step records
would otherwise reuse the work). Each step runs as the WebUI runs it, ``python -m rvc preprocess|extract`` in a
process of its own, timed from start to exit. Extraction's workers are threads sharing the models,
preprocessing's are processes. Prints the median seconds of the rounds (and each round's), seconds of audio per
second of wall time, the speed-up over the first worker count, and the peak RSS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CLIPS = Path(os.environ.get("RVC_SHARED_DIR", ROOT.parent / "shared")) / "data" / "voice_low"


def run_step(*argv: str | Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of ``python -m rvc <argv>``, start to exit: a step as the WebUI runs it, in a
    fresh process that pays its own imports (scipy.signal alone is 0.6 s of preprocessing's first file). The peak
    is the largest of the step's process and the worker processes it waited for."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "rvc", *map(str, argv)], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"rvc {argv[0]} failed:\n{stderr}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--f0-method", default="rmvpe")
    parser.add_argument("--copies", type=int, default=16, help="how many times the 30 clips go into the dataset")
    parser.add_argument("--repeats", type=int, default=1, help="rounds over the worker counts (median printed)")
    parser.add_argument("--preprocess-only", action="store_true", help="skip extraction (minutes per round)")
    args = parser.parse_args()
    from benchmarks.bench_infer import CACHE
    from rvc.audio import load_audio

    # In a process of its own: building the files imports torch, and a step's process starts as a copy of this one,
    # whose size its peak RSS would then include.
    subprocess.run([sys.executable, "-c", "from benchmarks.bench_infer import prepare; prepare([])"], cwd=ROOT,
                   check=True)
    home = CACHE / "home"
    hubert, rmvpe = home / "assets" / "hubert" / "hubert_base.pt", home / "assets" / "rmvpe" / "rmvpe.pt"
    clips = sorted(CLIPS.glob("*.flac"))
    audio_s = args.copies * sum(len(load_audio(clip, 16000)) / 16000 for clip in clips)
    print(f"# {args.copies} x {len(clips)} clips, {audio_s:.1f} s of audio, {os.cpu_count()} CPUs, "
          f"f0 {args.f0_method}, full-size HuBERT and RMVPE, {args.repeats} round(s) alternating the worker counts")
    runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for _ in range(args.repeats):
        for workers in args.workers:
            with tempfile.TemporaryDirectory() as folder:
                dataset, exp = Path(folder) / "dataset", Path(folder) / "bench"
                dataset.mkdir()
                for copy in range(args.copies):
                    for clip in clips:
                        shutil.copy(clip, dataset / f"{copy}_{clip.name}")
                runs.setdefault(("preprocess", workers), []).append(
                    run_step("preprocess", exp, dataset, "--sr", "40k", "--n-proc", workers))
                if not args.preprocess_only:
                    runs.setdefault(("extract", workers), []).append(run_step(
                        "extract", exp, "--f0-method", args.f0_method, "--version", "v2", "--devices", "cpu",
                        "--embedder", hubert, "--rmvpe", rmvpe, "--n-proc", workers))
    for (step, workers), figures in runs.items():
        median = statistics.median(seconds for seconds, _ in figures)
        first = statistics.median(seconds for seconds, _ in runs[step, args.workers[0]])
        each = " / ".join(f"{seconds:.1f}" for seconds, _ in figures)
        print(f"{step:10s} {workers} worker(s): {median:6.1f} s ({each}), {audio_s / median:5.1f} s of audio per s, "
              f"{first / median:.2f}x {args.workers[0]} worker(s), peak RSS {max(mb for _, mb in figures):,.0f} MB")


if __name__ == "__main__":
    main()
