"""Feature extraction for training: pitch and content features of every 16 kHz piece, then the filelist.

For each ``1_16k_wavs/<name>.wav`` (names and formats as the original WebUI, so an experiment moves between the
two programs)::

    2a_f0/<name>.wav.npy           coarse pitch, int64 in 1..255 (f0 models only)
    2b-f0nsf/<name>.wav.npy        pitch in Hz, float64, 0 = unvoiced, 100 frames/s (f0 models only)
    3_feature256/<stem>.npy        v1 content features, float32 [frames, 256], 50 frames/s
    3_feature768/<stem>.npy        v2 content features, float32 [frames, 768], 50 frames/s

Pitch has ``len // 160`` frames (pm) or ``len // 160 + 1`` (the other methods), features ``(len - 400) // 320 + 1``:
so ``0 <= pitch frames - 2 * feature frames <= 3``, and the trainer, which repeats each feature frame twice and
cuts everything to the shortest, loses at most the last pitch frames. Features are saved without that repeat.

Before any work, ``config.json`` is settled (``rvc.train.run_config.prepare_experiment_config``: the built-in
config for version and rate or the user's, recording "version" and "if_f0"), so a contradiction fails early.
After it, ``filelist.txt``, the trainer's list, as the original's "train" button writes it: one shuffled line per
piece present in every folder, ``gt_wav|feature|f0|f0nsf|speaker_id`` (f0 models) or ``gt_wav|feature|speaker_id``,
absolute paths, plus two lines pointing at 3 s of silence in ``mute/`` beside the experiment (``logs/mute`` as in
the original), which teach the model to stay quiet. The original ships those mute files; here they are made when
missing: silent 16-bit wavs, coarse pitch 1 and 0 Hz over 301 frames, and the embedder's features of 3 s of
silence (149 frames; not zeros, since a model only ever sees the features HuBERT gives for silence).

Each output is written atomically, and ``steps/extract_f0.json`` / ``steps/extract_features.json`` record the
inputs they were made from: a rerun computes only what is missing or stale (a new method, embedder or piece).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rvc.assets import require_asset
from rvc.atomic import atomic_write
from rvc.audio import SAMPLE_RATE_16K_HZ, load_audio, write_audio
from rvc.config import embedder_override
from rvc.embedders import EmbedderError, load_embedder
from rvc.events import EventSink
from rvc.f0 import F0_METHODS, HOP_LENGTH, coarse_f0, get_extractor
from rvc.train.preprocess import GT_WAVS, SAMPLE_RATES_HZ, WAVS_16K, piece_names, preprocessed_sample_rate
from rvc.train.run_config import FEATURE_DIRS, prepare_experiment_config
from rvc.train.steps import QuietSink, StepRecord, file_stamp, run_workers, stamp_files
from rvc.vocabulary import AUTO_DEVICES

F0_STAGE = "extract_f0"
FEATURE_STAGE = "extract_features"
F0_COARSE = "2a_f0"
F0_HZ = "2b-f0nsf"
FILELIST = "filelist.txt"
MUTE_FOLDER = "mute"
MUTE_S = 3
"""The original's mute pieces are 3 s long."""
MUTE_SAMPLES_16K = MUTE_S * SAMPLE_RATE_16K_HZ
CPU_METHODS = ("pm", "harvest", "dio")
"""Pitch methods without a network: they run on CPU workers even when GPUs are given."""


class ExtractError(ValueError):
    """The experiment cannot be extracted as asked (no pieces, unknown method, contradicting settings)."""


def parse_devices(devices: str | None, n_proc: int = 1) -> list[str]:
    """Torch devices, one per worker: "cpu" -> ``n_proc`` CPU workers; "0-1" (or "0,1") -> cuda:0 and cuda:1, as
    the original's GPU field; None or "auto" -> every visible GPU, else ``n_proc`` CPU workers."""
    if devices is None or devices.strip().lower() == AUTO_DEVICES:
        count = torch.cuda.device_count()
        return [f"cuda:{index}" for index in range(count)] if count else ["cpu"] * max(1, n_proc)
    if devices.strip().lower() == "cpu":
        return ["cpu"] * max(1, n_proc)
    indices = [part.strip() for part in devices.replace(",", "-").split("-") if part.strip()]
    if not indices or not all(part.isdigit() for part in indices):
        raise ExtractError(f"devices must be 'auto', 'cpu' or GPU numbers like '0-1', not {devices!r}")
    available = torch.cuda.device_count()
    missing = [index for index in indices if int(index) >= available]
    if missing:  # said before a worker starts, not as a driver error from deep inside torch
        raise ExtractError(f"GPU {missing[0]} is not available ({available} CUDA device(s) here): "
                           "use devices 'auto' or 'cpu'")
    return [f"cuda:{index}" for index in indices]


def extract(
    exp_dir: str | os.PathLike[str],
    f0_method: str | None,
    version: str,
    devices: str | None = None,
    sink: EventSink | None = None,
    embedder_path: str | os.PathLike[str] | None = None,
    rmvpe_path: str | os.PathLike[str] | None = None,
    n_proc: int | None = None,
    *,
    sample_rate: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    speaker_id: int = 0,
    seed: int | None = None,
) -> dict[str, Any]:
    """Extract pitch (``f0_method``; None for a model without pitch) and ``version`` ("v1"/"v2") features for the
    pieces of ``exp_dir``, then write ``filelist.txt``, the mute files and ``config.json``; return a summary.

    ``devices``: see ``parse_devices``; ``n_proc`` CPU workers where a step runs on CPU (default: one per core),
    threads sharing one model and the cores (each gets cores / workers torch threads: a 3.7 s piece keeps one
    thread busier than it keeps several). The embedder is
    ``embedder_path``, else $RVC_EMBEDDER, else the ``hubert_base`` asset; rmvpe is ``rmvpe_path``, else the
    ``rmvpe`` asset. ``sample_rate`` defaults to the preprocessing's; ``config_file`` replaces the run config;
    ``seed`` makes the filelist's order reproducible. A piece that fails (NaN features, too short) is reported
    and left out of the filelist.
    """
    exp_dir = Path(exp_dir)
    sink = sink or QuietSink()
    wavs = sorted((exp_dir / WAVS_16K).glob("*.wav"))
    _check_request(exp_dir, wavs, f0_method, version, sample_rate)
    embedder = Path(embedder_path or embedder_override() or require_asset("hubert_base"))
    rmvpe = Path(rmvpe_path or require_asset("rmvpe")) if f0_method == "rmvpe" else None
    if_f0 = f0_method is not None
    config_path = prepare_experiment_config(
        exp_dir, sample_rate or preprocessed_sample_rate(exp_dir), version, if_f0, config_file
    )
    rate = _rate_name(json.loads(config_path.read_text())["data"]["sampling_rate"])
    n_proc = n_proc or os.cpu_count() or 1
    workers = parse_devices(devices, n_proc)
    inputs = stamp_files(wavs)

    f0_summary = None
    if if_f0:
        f0_workers = ["cpu"] * max(1, n_proc) if f0_method in CPU_METHODS else workers
        f0_summary = _run_stage(
            exp_dir, F0_STAGE, {"f0_method": f0_method, "model": _identity(rmvpe)}, inputs, _f0_outputs,
            _compute_f0, _F0Worker, (str(exp_dir), f0_method, str(rmvpe) if rmvpe else None), f0_workers, sink,
        )
    feature_summary = _run_stage(
        exp_dir, FEATURE_STAGE, {"version": version, "embedder": _identity(embedder)}, inputs,
        lambda name: _feature_outputs(name, version), _compute_features, _FeatureWorker,
        (str(exp_dir), str(embedder), version), workers, sink,
    )
    mute_dir = write_mute_files(exp_dir.parent / MUTE_FOLDER, rate, version, embedder)
    filelist, lines = write_filelist(exp_dir, mute_dir, rate, version, if_f0, speaker_id, seed)
    return {
        "pieces": len(wavs), "sample_rate": rate, "version": version, "f0_method": f0_method,
        "f0": f0_summary, "features": feature_summary, "filelist": str(filelist), "filelist_lines": lines,
        "config": str(config_path), "mute": str(mute_dir),
    }


def _check_request(
    exp_dir: Path, wavs: list[Path], f0_method: str | None, version: str, sample_rate: str | None
) -> None:
    """Refuse, before anything is written, what cannot work."""
    if not wavs:
        raise ExtractError(f"{exp_dir / WAVS_16K}: no pieces; run the preprocess step first")
    if f0_method is not None and f0_method not in F0_METHODS:
        raise ExtractError(f"unknown f0 method {f0_method!r}; expected one of {', '.join(F0_METHODS)}")
    if version not in FEATURE_DIRS:
        raise ExtractError(f"unknown version {version!r}; expected one of {', '.join(FEATURE_DIRS)}")
    made_at = preprocessed_sample_rate(exp_dir)
    if sample_rate is not None and made_at is not None and sample_rate != made_at:
        raise ExtractError(f"{exp_dir}: the pieces were made at {made_at}, not {sample_rate}; preprocess again")


def write_filelist(
    exp_dir: Path, mute_dir: Path, sample_rate: str, version: str, if_f0: bool, speaker_id: int = 0,
    seed: int | None = None,
) -> tuple[Path, int]:
    """Write ``filelist.txt`` as the original's click_train: the pieces found in every folder the model needs,
    two mute lines, shuffled (``seed`` for a fixed order), no final newline. Returns (path, number of lines)."""
    folders = [GT_WAVS, FEATURE_DIRS[version], *((F0_COARSE, F0_HZ) if if_f0 else ())]
    names = set.intersection(*(piece_names(exp_dir / folder) for folder in folders))
    paths = [
        (exp_dir / GT_WAVS / f"{name}.wav", exp_dir / FEATURE_DIRS[version] / f"{name}.npy",
         exp_dir / F0_COARSE / f"{name}.wav.npy", exp_dir / F0_HZ / f"{name}.wav.npy")
        for name in sorted(names)
    ]
    paths += [mute_paths(mute_dir, sample_rate, version)] * 2
    lines = ["|".join([*map(str, row[: 4 if if_f0 else 2]), str(speaker_id)]) for row in paths]
    random.Random(seed).shuffle(lines)
    path = exp_dir / FILELIST
    with atomic_write(path) as temporary:
        temporary.write_text("\n".join(lines), encoding="utf-8")
    return path, len(lines)


def mute_paths(mute_dir: Path, sample_rate: str, version: str) -> tuple[Path, Path, Path, Path]:
    """The mute piece's (wav, features, coarse pitch, pitch in Hz), named as the original's ``logs/mute``."""
    return (
        mute_dir / GT_WAVS / f"mute{sample_rate}.wav",
        mute_dir / FEATURE_DIRS[version] / "mute.npy",
        mute_dir / F0_COARSE / "mute.wav.npy",
        mute_dir / F0_HZ / "mute.wav.npy",
    )


def write_mute_files(
    mute_dir: Path, sample_rate: str, version: str, embedder_path: str | os.PathLike[str]
) -> Path:
    """Make the mute files for this rate and version that ``mute_dir`` lacks (an existing file, e.g. one the
    original ships, is kept). The features come from ``embedder_path`` run on 3 s of silence."""
    wav, features, coarse, hertz = mute_paths(mute_dir, sample_rate, version)
    frames = MUTE_SAMPLES_16K // HOP_LENGTH + 1
    if not wav.exists():
        wav.parent.mkdir(parents=True, exist_ok=True)
        rate_hz = SAMPLE_RATES_HZ[sample_rate]
        write_audio(wav, np.zeros(MUTE_S * rate_hz, dtype=np.float32), rate_hz, "wav")  # 16-bit, as the original
    if not coarse.exists():
        save_npy(coarse, np.ones(frames, dtype=np.int64))
    if not hertz.exists():
        save_npy(hertz, np.zeros(frames, dtype=np.float64))
    if not features.exists():
        model = load_embedder(embedder_path)
        save_npy(features, _features(model, np.zeros(MUTE_SAMPLES_16K, dtype=np.float32), version))
    return mute_dir


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` atomically (a crash never leaves a truncated .npy that a rerun would take as done)."""
    with atomic_write(path) as temporary, open(temporary, "wb") as stream:
        np.save(stream, array, allow_pickle=False)


# --- one stage over worker threads -------------------------------------------------------------------------------


def _run_stage(
    exp_dir: Path, stage: str, params: dict[str, Any], inputs: dict[str, Any], outputs: Callable[[str], list[str]],
    work: Callable[[Any, str], dict[str, Any]], setup: Callable[..., Any], setup_args: tuple[Any, ...],
    devices: Sequence[str], sink: EventSink,
) -> dict[str, Any]:
    """Compute the pieces whose outputs are stale or missing over worker threads (``run_workers``, one per entry of
    ``devices``); report progress as ``stage``; return counts."""
    record = StepRecord.load(exp_dir, stage)
    todo = set(record.begin(params, inputs))
    todo |= {name for name in inputs if not all((exp_dir / output).exists() for output in outputs(name))}
    items = sorted(todo)
    for name in items:
        record.forget(name)
    failed: dict[str, str] = {}
    sink.progress(stage, 0, len(items), f"{len(items)} of {len(inputs)} pieces to compute")
    devices = devices[: len(items)]
    try:
        with _torch_threads_shared_by(devices.count("cpu")):
            finished = enumerate(run_workers(work, items, setup, setup_args, devices), 1)
            for done, (name, outcome) in finished:
                if "error" in outcome:
                    failed[name] = outcome["error"]
                    sink.log(f"{stage}: {name}: {outcome['error']}", level="warning")
                else:
                    record.done(name, outcome)
                    record.checkpoint()
                sink.progress(stage, done, len(items), name)
    finally:
        record.save()
    return {"computed": len(items) - len(failed), "reused": len(inputs) - len(items), "failed": failed}


@contextlib.contextmanager
def _torch_threads_shared_by(n_workers: int) -> Iterator[None]:
    """Give each of ``n_workers`` CPU worker threads an equal share of torch's CPU threads while the block runs.

    Each worker's ops then run on their own team of threads, and together the workers use the cores once. On
    this 2-core machine two workers of one thread each beat one worker of two on 30 pieces: RMVPE 4.9 vs 5.8 s,
    HuBERT 6.6 vs 6.9 s, fcpe 2.0 vs 2.7 s (harvest and dio, single-threaded, 1.9-2.0x).
    """
    if n_workers <= 1:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, before // n_workers))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _f0_outputs(name: str) -> list[str]:
    return [f"{F0_COARSE}/{name}.npy", f"{F0_HZ}/{name}.npy"]


def _feature_outputs(name: str, version: str) -> list[str]:
    return [f"{FEATURE_DIRS[version]}/{Path(name).stem}.npy"]


def _identity(path: Path | None) -> dict[str, Any] | None:
    """What identifies a model file or folder for the step record: its path and the stamps of its files."""
    if path is None:
        return None
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    return {"path": str(path.resolve()), "files": {file.name: file_stamp(file) for file in files if file.is_file()}}


def _rate_name(hz: int) -> str:
    return next(name for name, value in SAMPLE_RATES_HZ.items() if value == hz)


class _F0Worker:
    """The pitch extractor of a device's workers, loaded once on it."""

    def __init__(self, exp_dir: str, method: str, rmvpe_path: str | None, device: str) -> None:
        self.exp_dir = Path(exp_dir)
        self.extractor = get_extractor(method, device, rmvpe_path)


def _compute_f0(worker: _F0Worker, name: str) -> dict[str, Any]:
    audio = load_audio(worker.exp_dir / WAVS_16K / name, SAMPLE_RATE_16K_HZ)
    try:
        f0 = worker.extractor.compute(audio)
    except ValueError as error:
        return {"error": str(error)}
    coarse, hertz = _f0_outputs(name)
    save_npy(worker.exp_dir / hertz, f0)
    save_npy(worker.exp_dir / coarse, coarse_f0(f0))
    return {"frames": len(f0)}


class _FeatureWorker:
    """The embedder of a device's workers, loaded once on it."""

    def __init__(self, exp_dir: str, embedder_path: str, version: str, device: str) -> None:
        self.exp_dir = Path(exp_dir)
        self.version = version
        self.embedder = load_embedder(embedder_path, device)


def _compute_features(worker: _FeatureWorker, name: str) -> dict[str, Any]:
    audio = load_audio(worker.exp_dir / WAVS_16K / name, SAMPLE_RATE_16K_HZ)
    try:
        features = _features(worker.embedder, audio, worker.version)
    except EmbedderError:
        raise  # the model cannot make these features at all (e.g. v1 without final_proj): stop the run
    except ValueError as error:  # this piece only (too short, NaN)
        return {"error": str(error)}
    save_npy(worker.exp_dir / _feature_outputs(name, worker.version)[0], features)
    return {"frames": len(features)}


def _features(embedder: Any, audio_16k: np.ndarray, version: str) -> np.ndarray:
    """float32 [frames, dim]; ValueError for NaN, which the original also refuses to save."""
    features = embedder.extract(audio_16k, version)[0].float().cpu().numpy()
    if np.isnan(features).any():
        raise ValueError("the features contain NaN")
    return features
