"""Conversion speed and memory with full-size models on this machine.

    .venv/bin/python benchmarks/bench_infer.py [--seconds 30 600] [--f0-method rmvpe] [--device cpu] [--compile]

Builds (once, under benchmarks/.cache/) a full-size v2 40k f0 model, a fairseq-format hubert_base.pt and an
rmvpe.pt with the reference weight rule, and inputs cut from or looped over
../shared/data/source_speech_stereo48k.wav. Each input length runs in its own process so its peak RSS is its
own. ``--compile`` turns on the compile_decoder setting (the cold run then includes compiling). Prints per-stage
seconds (decode, f0, hubert, index, synth, postprocess, write), the real-time factor (processing seconds per audio
second) and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / ".cache"
SOURCE = Path(os.environ.get("RVC_SHARED_DIR", ROOT.parent / "shared")) / "data" / "source_speech_stereo48k.wav"
MODEL = "full_v2_40k"


def prepare(seconds: list[int]) -> Path:
    """The RVC home with full-size files and one input per length (built once)."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from rvc.audio import load_audio, write_audio
    from tests.factories import write_full_size_home

    home = CACHE / "home"
    if not (home / "assets" / "rmvpe" / "rmvpe.pt").is_file():
        write_full_size_home(home)
    source = load_audio(SOURCE, 48000)
    for length in seconds:
        target = CACHE / f"input_{length}s.wav"
        if not target.is_file():
            repeats = -(-length * 48000 // len(source))
            write_audio(target, np.tile(source, repeats)[: length * 48000], 48000)
    return home


def run_case(seconds: int, f0_method: str, device: str | None) -> dict:
    """Inside a fresh process: load the models once, convert the input twice (cold, then warm)."""
    from rvc import service

    start = time.perf_counter()
    converter = service.Converter(MODEL, service.ConvertParams(f0_method=f0_method), index=None, device=device)
    converter.embedder, converter.f0_extractor  # noqa: B018 (waits for the background loads: all models counted)
    load_s = time.perf_counter() - start
    source = CACHE / f"input_{seconds}s.wav"
    runs = []
    for attempt in ("cold", "warm") if seconds <= 60 else ("warm",):
        start = time.perf_counter()
        result = converter.convert_file(source, CACHE / f"out_{seconds}s.wav")
        total = time.perf_counter() - start
        runs.append({"run": attempt, "total_s": round(total, 2), "rtf": round(total / seconds, 3),
                     "stages_s": result["timings_s"]})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {"seconds": seconds, "f0_method": f0_method, "model_load_s": round(load_s, 2),
              "runs": runs, "peak_rss_mb": round(peak_mb)}
    device = next(converter.synthesizer.parameters()).device
    if device.type == "cuda":
        import torch

        report["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, nargs="+", default=[30, 600])
    parser.add_argument("--f0-method", default="rmvpe")
    parser.add_argument("--device")
    parser.add_argument("--compile", action="store_true", help="torch.compile the decoder (compile_decoder setting)")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)  # internal: run one length in this process
    args = parser.parse_args()
    home = prepare(args.seconds)
    os.environ["RVC_HOME"] = str(home)
    os.environ.pop("RVC_EMBEDDER", None)
    from rvc.settings import Settings, save_settings

    save_settings(Settings(compile_decoder=args.compile))
    if args.case is not None:
        print(json.dumps(run_case(args.case, args.f0_method, args.device)))
        return
    print(f"# rvc-webui conversion benchmark: full-size v2 40k f0, f0={args.f0_method}, {os.cpu_count()} CPUs, "
          f"decoder {'compiled' if args.compile else 'eager'}")
    for seconds in args.seconds:
        command = [sys.executable, __file__, "--case", str(seconds), "--f0-method", args.f0_method]
        if args.device:
            command += ["--device", args.device]
        if args.compile:
            command.append("--compile")
        output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, env=os.environ).stdout
        report = json.loads(output.strip().splitlines()[-1])
        gpu = f", peak GPU memory {report['peak_gpu_mb']} MB" if "peak_gpu_mb" in report else ""
        print(f"\n## {seconds} s input: models loaded in {report['model_load_s']} s, "
              f"peak RSS {report['peak_rss_mb']} MB{gpu}")
        for run in report["runs"]:
            stages = ", ".join(f"{k} {v:.2f}" for k, v in run["stages_s"].items())
            print(f"  {run['run']}: {run['total_s']} s, RTF {run['rtf']} | {stages}")


if __name__ == "__main__":
    main()
