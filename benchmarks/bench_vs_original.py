"""Our conversion against the original RVC WebUI's, on the same machine, inputs and weights: a comparison table.

    .venv/bin/python benchmarks/bench_vs_original.py [--original PATH] [--original-python PY]
        [--cases 30s,pm,batch,10min] [--repeats N]

Both sides read bench_infer.py's full-size files (v2 40k f0 model, rmvpe.pt; HuBERT as our fairseq
hubert_base.pt and, for the original, the same weights saved once as the Hugging Face folder its 2026 main
loads) and one faiss index built here from ../shared/data's voices. Cases: ``30s`` the 39.4 s stereo source
with rmvpe + index (cold and warm), ``pm`` the same with pm, ``10min`` a 10-minute input (slow on the
original: opt in), ``batch`` the 30 clips of voice_low as one batch (``convert_batch`` / the original's
``vc_multi``). Every run is a fresh process, ours and the original's taking turns, so peak RSS and start-up
(process start to ready, to first output) are each process's own and load on the machine hits both alike.
CPU seconds (all threads) of each run are shown too: on a busy machine they vary less than wall time.
Stages: decode, f0, features (HuBERT + index blend), synth, loads (models the original loads lazily during
its first conversion), other (filters, padding, rms mix, write...). Figures are medians over ``--repeats``.
Without ``--original`` only our figures are printed. The original runs through original_driver.py.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench_infer import CACHE, MODEL, ROOT, SOURCE, prepare

DATA = ROOT.parent / "shared" / "data"
VOICE_LOW = DATA / "voice_low"
INDEX_VOICES = (*sorted(VOICE_LOW.glob("*.flac")), DATA / "voice_high_long.flac")
WORK = CACHE / "vs_original"
DRIVER = ROOT / "benchmarks" / "original_driver.py"
INDEX_PIECE_SAMPLES = 4 * 16000  # index features come from 4 s pieces, about the length training slices have
# What the original's hubert_base folder ships beside config.json (its feature extractor does not normalise).
PREPROCESSOR_CONFIG = {"do_normalize": False, "feature_extractor_type": "Wav2Vec2FeatureExtractor",
                       "feature_size": 1, "padding_side": "right", "padding_value": 0,
                       "return_attention_mask": False, "sampling_rate": 16000}
STAGES = ("decode", "f0", "features", "synth", "loads", "other")


@dataclass(frozen=True)
class Case:
    title: str
    f0_method: str
    runs: tuple[str, ...]
    input: Path | None = None  # one file converted once per run, in one process
    batch_dir: Path | None = None  # or a folder converted as one batch


CASES = {
    "30s": Case("39.4 s stereo 48k, rmvpe + index", "rmvpe", ("cold", "warm"), input=SOURCE),
    "pm": Case("39.4 s stereo 48k, pm + index", "pm", ("cold", "warm"), input=SOURCE),
    "10min": Case("10 min, rmvpe + index", "rmvpe", ("first",), input=CACHE / "input_600s.wav"),
    "batch": Case("30 clips (100 s), rmvpe + index", "rmvpe", ("batch",), batch_dir=VOICE_LOW),
}


@dataclass(frozen=True)
class Shared:
    """The files both sides read."""

    home: Path
    hubert_hf: Path
    index: Path


def prepare_shared(cases: list[str]) -> Shared:
    """bench_infer's full-size home, the HuBERT folder for the original and the index (all built once)."""
    home = prepare([600] if "10min" in cases else [])
    hubert_hf, index = hubert_folder(home), shared_index(home)
    warm_page_cache([home / "assets", hubert_hf, index])
    return Shared(home, hubert_hf, index)


def hubert_folder(home: Path) -> Path:
    """Our hubert_base.pt saved as the Hugging Face folder the original's 2026 main reads: same weights."""
    folder = WORK / "hubert_base"
    weights = folder / "pytorch_model.bin"
    if not weights.is_file():
        import torch

        from rvc.embedders import load_embedder

        embedder = load_embedder(home / "assets" / "hubert" / "hubert_base.pt")
        folder.mkdir(parents=True, exist_ok=True)
        embedder.config.to_json_file(folder / "config.json")
        (folder / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR_CONFIG, indent=2))
        torch.save(embedder.state_dict(), weights)  # written last: its presence means the folder is whole
    return folder


def shared_index(home: Path) -> Path:
    """An index of both voices' features, built by our builder (files as the original names them)."""
    built = sorted((WORK / "index").glob("added_*.index"))
    if built:
        return built[0]
    import numpy as np

    from rvc.audio import load_audio
    from rvc.embedders import MIN_SAMPLES, load_embedder
    from rvc.retrieval import build_index

    embedder = load_embedder(home / "assets" / "hubert" / "hubert_base.pt")
    features = WORK / "index_features"
    features.mkdir(parents=True, exist_ok=True)
    for number, path in enumerate(INDEX_VOICES):
        audio = load_audio(path, 16000)
        pieces = [audio[i : i + INDEX_PIECE_SAMPLES] for i in range(0, len(audio), INDEX_PIECE_SAMPLES)]
        frames = [embedder.extract(piece, "v2")[0].numpy() for piece in pieces if len(piece) >= MIN_SAMPLES]
        np.save(features / f"{number:03d}.npy", np.concatenate(frames))
    return build_index(features, WORK / "index", "bench", "v2", rng=np.random.default_rng(0)).added_path


def warm_page_cache(paths: list[Path]) -> None:
    """Read the weights once so neither side's first process pays for the disk."""
    for path in paths:
        for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            with open(file, "rb") as handle:
                while handle.read(1 << 24):
                    pass


def our_stages(timings: list[dict[str, float]], total: float) -> dict[str, float]:
    """Our pipeline's timings summed over the files of a run, in the table's stages."""
    def summed(*names: str) -> float:
        return sum(t.get(name, 0.0) for t in timings for name in names)

    stages = {"decode": summed("decode"), "f0": summed("f0"), "features": summed("hubert", "index"),
              "synth": summed("synth"), "loads": 0.0}
    stages["other"] = total - sum(stages.values())
    return {name: round(value, 4) for name, value in stages.items()}


def run_ours(case: Case, index: Path, out: Path, spawn_time: float) -> dict:
    """Inside a fresh process: load everything, then convert as the case says."""
    import torch

    from rvc import service

    imported_at = time.time()
    params = service.ConvertParams(f0_method=case.f0_method)
    converter = service.Converter(MODEL, params, index=index)
    ready_at = time.time()
    runs = []
    for name in case.runs:
        start, cpu_start = time.perf_counter(), time.process_time()
        if case.batch_dir:
            batch = service.convert_batch(case.batch_dir, MODEL, out, params, index)
            if batch["errors"]:
                raise SystemExit(f"our batch had errors: {batch['errors']}")
            timings = [output["timings_s"] for output in batch["outputs"]]
        else:
            timings = [converter.convert_file(case.input, out / f"{case.input.stem}_ours.wav")["timings_s"]]
        total = time.perf_counter() - start
        runs.append({"run": name, "total_s": round(total, 3), "cpu_s": round(time.process_time() - cpu_start, 3),
                     "done_s": round(time.time() - spawn_time, 3), "stages_s": our_stages(timings, total)})
    return {"torch": torch.__version__, "imports_s": round(imported_at - spawn_time, 3),
            "ready_s": round(ready_at - spawn_time, 3), "runs": runs,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def original_python(original: Path, given: Path | None) -> Path:
    """The interpreter of the original's environment: given, or a .venv in or beside its folder."""
    venv_python = Path(".venv") / "bin" / "python"
    candidates = [given] if given else [original / venv_python, original.parent / venv_python]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SystemExit(f"no Python for the original found at {', '.join(map(str, candidates))}: use --original-python")


def spawn(side: str, case_name: str, shared: Shared, args: argparse.Namespace) -> dict:
    """One fresh process for one side and case; its JSON report."""
    case = CASES[case_name]
    (WORK / "out").mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f"{side}_{case_name}_", dir=WORK / "out"))
    env = {**os.environ, "RVC_HOME": str(shared.home)}
    env.pop("RVC_EMBEDDER", None)
    spawn_time = time.time()
    if side == "ours":
        command = [sys.executable, __file__, "--child", case_name, "--index", str(shared.index), "--out", str(out),
                   "--spawn-time", repr(spawn_time)]
    else:
        python = args.original_python
        env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"  # its venv may hold an `ffmpeg` link
        env.pop("PYTHONPATH", None)
        command = [str(python), str(DRIVER), "--original", str(args.original.resolve()),
                   "--model-dir", str(shared.home / "assets" / "weights"), "--model", f"{MODEL}.pth",
                   "--hubert", str(shared.hubert_hf), "--rmvpe-dir", str(shared.home / "assets" / "rmvpe"),
                   "--index", str(shared.index), "--out", str(out), "--spawn-time", repr(spawn_time),
                   "--f0-method", case.f0_method]
        command += ["--batch-dir", str(case.batch_dir)] if case.batch_dir else ["--input", str(case.input),
                                                                                 "--runs", ",".join(case.runs)]
    completed = subprocess.run(command, capture_output=True, text=True, env=env)
    shutil.rmtree(out, ignore_errors=True)
    if completed.returncode != 0:
        raise SystemExit(f"{side} / {case_name} failed (exit {completed.returncode}):\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def rows_of(case: Case, reports: list[dict]) -> dict[str, float]:
    """Figures of one side and case, by row name: medians over the repeats."""
    values: dict[str, list[float]] = {}

    def add(row: str, value: float) -> None:
        values.setdefault(row, []).append(value)

    for report in reports:
        add("start -> ready (imports + loads)", report["ready_s"])
        add("  of which imports", report["imports_s"])
        for run in report["runs"]:
            for stage in STAGES:
                add(f"{run['run']}: {stage}", run["stages_s"][stage])
            add(f"{run['run']}: total", run["total_s"])
            add(f"{run['run']}: CPU time (all threads)", run["cpu_s"])
        add("start -> first output" if not case.batch_dir else "start -> batch done", report["runs"][0]["done_s"])
        add("peak RSS (MB)", report["peak_rss_mb"])
    return {row: statistics.median(found) for row, found in values.items()}


def print_table(results: dict[str, dict[str, list[dict]]], with_original: bool) -> None:
    header = ["case", "stage", "ours s", "original s", "orig/ours"] if with_original else ["case", "stage", "ours s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for case_name, sides in results.items():
        ours = rows_of(CASES[case_name], sides["ours"])
        theirs = rows_of(CASES[case_name], sides["original"]) if with_original else {}
        for row, value in ours.items():
            other = theirs.get(row)
            if row.endswith(": loads") and not value and not other:
                continue
            cells = [case_name, row, _number(row, value)]
            if with_original:
                ratio = f"{other / value:.2f}" if other is not None and value > 0.005 else "-"
                cells += [_number(row, other), ratio]
            print("| " + " | ".join(cells) + " |")


def _number(row: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if row.startswith("peak") else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", type=Path, help="a checkout of the original RVC WebUI (2026 main)")
    parser.add_argument("--original-python", type=Path, help="its python (default: .venv in or beside it)")
    parser.add_argument("--cases", default="30s,pm,batch", help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)  # internal: one case in this process
    parser.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--spawn-time", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_ours(CASES[args.child], args.index, args.out, args.spawn_time)))
        return
    cases = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}: choose from {', '.join(CASES)}")
    sides = ["ours"]
    if args.original:
        args.original_python = original_python(args.original, args.original_python)
        sides.append("original")
    shared = prepare_shared(cases)
    results = {case: {side: [] for side in sides} for case in cases}
    for _ in range(args.repeats):
        for case in cases:
            for side in sides:
                results[case][side].append(spawn(side, case, shared, args))
    torches = {side: results[cases[0]][side][0].get("torch", "?") for side in sides}
    print(f"# conversion: ours vs the original RVC WebUI; full-size v2 40k f0 model, {os.cpu_count()} CPUs, "
          f"torch {', '.join(f'{side} {version}' for side, version in torches.items())}; "
          f"median of {args.repeats} run(s) per side, interleaved, each in a fresh process")
    for case in cases:
        print(f"# {case}: {CASES[case].title}")
    print_table(results, bool(args.original))


if __name__ == "__main__":
    main()
