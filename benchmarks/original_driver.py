"""Times the original RVC WebUI's own conversion code; run by bench_vs_original.py with the original's Python.

    <original venv>/bin/python benchmarks/original_driver.py --original PATH --model-dir DIR --model NAME.pth
        --hubert DIR --rmvpe-dir DIR --index FILE --out DIR --spawn-time T (--input FILE --runs cold,warm
        | --batch-dir DIR) [--f0-method rmvpe]

Nothing of the original is copied: this imports its modules from PATH (``configs.config.Config``,
``infer.vc.modules.VC``) and calls what the WebUI's buttons call (``get_vc``, ``vc_single``, ``vc_multi``).
It only sets what the WebUI's launcher sets (working directory, the environment defaults of ``webui.py``),
points ``infer.hubert.HUBERT_MODEL_PATH`` at the benchmark's HuBERT folder so both sides share one set of
weights, and wraps a few of the original's functions with timers. Prints one JSON line: seconds from process
start to ready, per-run stages (the original's own npy / f0 / infer times, plus decode and lazy model loads)
and peak RSS. Standard library only besides the original's own dependencies.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import sys
import time
from pathlib import Path

# What webui.py sets before importing anything (CUDA graphs off is its default for offline conversion).
WEBUI_ENV_DEFAULTS = {"OPENBLAS_NUM_THREADS": "1", "RVC_CUDA_GRAPH": "0"}
# The WebUI's defaults for the conversion controls (index_rate, resample_sr, rms_mix_rate, protect).
INDEX_RATE, RESAMPLE_SR, RMS_MIX_RATE, PROTECT = 0.75, 0, 0.25, 0.33


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--hubert", type=Path, required=True, help="a Hugging Face HuBERT folder")
    parser.add_argument("--rmvpe-dir", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--spawn-time", type=float, required=True, help="time.time() when the parent started us")
    parser.add_argument("--f0-method", default="rmvpe")
    parser.add_argument("--input", type=Path)
    parser.add_argument("--runs", default="cold,warm")
    parser.add_argument("--batch-dir", type=Path)
    return parser.parse_args()


class Stopwatch:
    """Seconds spent in wrapped callables, by name, since the last ``reset``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, name: str, func):
        @functools.wraps(func)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

        return timed

    def reset(self) -> dict[str, float]:
        seconds, self.seconds = self.seconds, {}
        return seconds


def import_original(args: argparse.Namespace):
    """Import the original the way its launcher runs it: from its root, with its environment."""
    os.chdir(args.original)
    sys.path.insert(0, str(args.original))
    for name, value in WEBUI_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    os.environ.update(weight_root=str(args.model_dir), rmvpe_root=str(args.rmvpe_dir),
                      index_root=str(args.index.parent), outside_index_root=str(args.index.parent))
    sys.argv = sys.argv[:1]  # Config() parses the command line of webui.py
    import infer.hubert
    import infer.rmvpe
    import infer.vc.modules
    from configs.config import Config

    infer.hubert.HUBERT_MODEL_PATH = args.hubert.resolve()
    return Config, infer.vc.modules, infer.rmvpe


def stages_of(stopwatch: Stopwatch, pipeline_times: list[float], total: float) -> dict[str, float]:
    """The original's own [npy, f0, infer] times; lazy model loads and decode apart; the rest is 'other'."""
    wrapped = stopwatch.reset()
    loads = wrapped.get("hubert_load", 0.0) + wrapped.get("rmvpe_load", 0.0)
    stages = {
        "decode": wrapped.get("decode", 0.0),
        "f0": pipeline_times[1] - wrapped.get("rmvpe_load", 0.0),  # the original loads rmvpe inside get_f0
        "features": pipeline_times[0],
        "synth": pipeline_times[2],
        "loads": loads,
    }
    stages["other"] = total - sum(stages.values())
    return {name: round(value, 4) for name, value in stages.items()}


def main() -> None:
    args = parse_args()
    Config, modules, rmvpe = import_original(args)
    imported_at = time.time()
    stopwatch = Stopwatch()
    modules.load_audio = stopwatch.wrap("decode", modules.load_audio)
    modules.load_hubert = stopwatch.wrap("hubert_load", modules.load_hubert)
    rmvpe.RMVPE = stopwatch.wrap("rmvpe_load", rmvpe.RMVPE)

    import soundfile
    import torch

    vc = modules.VC(Config())
    vc.get_vc(args.model)
    pipeline_times = [0.0, 0.0, 0.0]
    pipeline = vc.pipeline.pipeline

    def summed_pipeline(*call_args, **call_kwargs):
        times = call_args[4]  # Pipeline.pipeline(model, net_g, sid, audio, times, ...) adds into it
        result = pipeline(*call_args, **call_kwargs)
        pipeline_times[:] = [a + b for a, b in zip(pipeline_times, times, strict=True)]
        return result

    vc.pipeline.pipeline = summed_pipeline
    ready_at = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    common = (0, args.f0_method, str(args.index), INDEX_RATE, RESAMPLE_SR, RMS_MIX_RATE, PROTECT)
    runs = []
    for name in ["batch"] if args.batch_dir else args.runs.split(","):
        pipeline_times[:] = [0.0, 0.0, 0.0]
        start, cpu_start = time.perf_counter(), time.process_time()
        if args.batch_dir:
            for _status in vc.vc_multi(0, str(args.batch_dir), str(args.out), None, *common, "wav"):
                pass
            files = len(list(args.out.glob("*.wav")))
            expected = len(os.listdir(args.batch_dir))
            if files != expected:
                raise SystemExit(f"the original converted {files} of {expected} files: {_status}")
        else:
            info, (sample_rate, audio) = vc.vc_single(0, str(args.input), *common)
            if audio is None:
                raise SystemExit(f"the original's conversion failed:\n{info}")
            soundfile.write(args.out / f"{args.input.stem}_original.wav", audio, sample_rate)
        total = time.perf_counter() - start
        runs.append({"run": name, "total_s": round(total, 3), "cpu_s": round(time.process_time() - cpu_start, 3),
                     "done_s": round(time.time() - args.spawn_time, 3),
                     "stages_s": stages_of(stopwatch, pipeline_times, total)})
    print(json.dumps({
        "torch": torch.__version__,
        "imports_s": round(imported_at - args.spawn_time, 3),
        "ready_s": round(ready_at - args.spawn_time, 3),
        "runs": runs,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == "__main__":
    main()
