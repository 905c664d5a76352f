"""Training preprocessing: a dataset (a folder of clips, or one long recording) -> short pieces to train on.

Per file, as the original RVC preprocessing: decode to mono at the model's rate, a causal 48 Hz high-pass, cut at
the pauses (``rvc.train.slicer``), cut each part into 3.7 s pieces overlapping by 0.3 s (the last piece of a part
takes the rest, up to 4.0 s), level each piece, and write it twice as float32 wav::

    logs/<exp>/0_gt_wavs/<file index>_<piece index>.wav    at the model rate (what the synthesizer learns to make)
    logs/<exp>/1_16k_wavs/<file index>_<piece index>.wav   at 16 kHz (what pitch and content features are read from)

The file index is the file's position in the sorted dataset; a rerun keeps the indices of known files and gives
new files the next ones, so adding a clip redoes that clip only. What was done is in ``steps/preprocess.json``
(a ``StepRecord``, whose params also tell the later steps the sample rate), what the dataset holds and what was
kept in ``preprocess_report.json``, for the person who has to judge the dataset.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rvc.atomic import atomic_write, write_json_atomic
from rvc.audio import SAMPLE_RATE_16K_HZ, AudioError, highpass_48hz, read_audio, resample, to_mono
from rvc.events import EventSink
from rvc.security import within
from rvc.train.slicer import Slicer
from rvc.train.steps import QuietSink, StepRecord, run_workers, stamp_files

STAGE = "preprocess"
GT_WAVS = "0_gt_wavs"
WAVS_16K = "1_16k_wavs"
REPORT_FILE = "preprocess_report.json"
RUN_CONFIG_FILE = "config.json"
SAMPLE_RATES_HZ = {"32k": 32000, "40k": 40000, "48k": 48000}
"""The model rates (as ``rvc.synth.config``; not imported from there, which would load torch in every worker)."""

PIECE_S = 3.7
OVERLAP_S = 0.3
TAIL_S = PIECE_S + OVERLAP_S
"""The last piece of a part takes what is left of it when that is at most this long."""
PEAK_TARGET = 0.9
NORM_ALPHA = 0.75
"""Levelling mixes 75 % of the piece scaled to a 0.9 peak with 25 % of it as it is: quiet pieces come up, the
relative loudness within the dataset is not erased completely."""
MAX_PEAK = 2.5
"""Pieces peaking above this are skipped, as in the original (after the decoder's clipping to [-1, 1] only an
extreme overshoot of the high-pass can get there)."""
MIN_PIECE_S = 0.5
"""Parts of a recording shorter than this are not written: the trainer draws random windows of 0.24-0.4 s
(segment_size / sampling_rate of the configs) from every piece, which a shorter piece barely or cannot fill.
The original writes them anyway; here they count as removed, and a clip with nothing longer is reported."""
CLIPPED_LEVEL = 0.999
LEADS_OUT = "a link to a file outside the folders this server may read: left out, not read"


class PreprocessError(ValueError):
    """The dataset cannot be used (missing, empty, nothing decodable); the message names the path."""


def cut_pieces(audio: np.ndarray, sample_rate_hz: int) -> list[np.ndarray]:
    """Cut one part of a recording into PIECE_S pieces that start every PIECE_S - OVERLAP_S seconds.

    As in the original: a new full piece is cut while more than TAIL_S seconds remain from its start; the rest
    then becomes the last piece (so only the last one may be shorter, or up to TAIL_S long). The caller numbers
    the pieces of a file consecutively; the original's counter skips a number after a part's last piece and lets
    the next part's first full piece overwrite it, which loses audio, so names differ from it after such a part.
    """
    piece = int(PIECE_S * sample_rate_hz)
    pieces = []
    for i in range(len(audio)):
        start = int(sample_rate_hz * (PIECE_S - OVERLAP_S) * i)
        if len(audio) - start <= TAIL_S * sample_rate_hz:
            pieces.append(audio[start:])
            break
        pieces.append(audio[start : start + piece])
    return pieces


def normalize_piece(piece: np.ndarray) -> np.ndarray | None:
    """The original's levelling (see NORM_ALPHA); None for a piece to skip (peak above MAX_PEAK, or silent)."""
    peak = float(np.abs(piece).max(initial=0.0))
    if peak > MAX_PEAK or peak == 0.0:
        return None
    return piece / peak * (PEAK_TARGET * NORM_ALPHA) + (1 - NORM_ALPHA) * piece


def dataset_files(
    dataset: str | os.PathLike[str], roots: Sequence[str | os.PathLike[str]] | None = None
) -> tuple[list[Path], list[dict[str, str]]]:
    """The files of a dataset (the file itself, or the visible files of a folder, sorted, not recursive) and the
    entries left out, each {"file", "reason"}.

    With ``roots`` (the folders the server that started the step may read), every entry is resolved and one that
    lands outside them, a link out of the dataset, is left out before anything opens it: a dataset folder must not
    become a way to read the server's other files into an experiment. A dataset outside them is refused whole.
    """
    dataset = Path(dataset)
    confined = [Path(os.path.realpath(root)) for root in roots] if roots is not None else None
    if confined is not None and not within(dataset, confined):
        raise PreprocessError(f"{dataset}: outside the folders this server may read")
    if dataset.is_file():
        return [dataset], []
    if not dataset.is_dir():
        raise PreprocessError(f"{dataset}: no such file or folder")
    files = sorted(path for path in dataset.iterdir() if path.is_file() and not path.name.startswith("."))
    if not files:
        raise PreprocessError(f"{dataset}: the folder holds no files")
    if confined is None:
        return files, []
    kept = [path for path in files if within(path, confined)]
    return kept, [{"file": path.name, "reason": LEADS_OUT} for path in files if path not in kept]


def preprocess(
    exp_dir: str | os.PathLike[str],
    dataset: str | os.PathLike[str],
    sample_rate: str = "40k",
    n_proc: int = 1,
    sink: EventSink | None = None,
    config_file: str | os.PathLike[str] | None = None,
    roots: Sequence[str | os.PathLike[str]] | None = None,
) -> dict[str, Any]:
    """Cut ``dataset`` into training pieces in ``exp_dir`` at ``sample_rate`` ("32k", "40k" or "48k") over
    ``n_proc`` processes, and return the dataset report (also written to ``preprocess_report.json``).

    Work still valid from an earlier run is kept: a rerun only processes new or changed files, and a new rate
    or dataset redoes everything. ``config_file`` (a run config in the original's train/data/model layout, at
    this rate) is copied unchanged to the experiment's ``config.json``, which the extract step completes.
    ``roots``: read only files inside these folders (see `dataset_files`; the server's steps pass its allowed
    folders). Unreadable and left-out files are listed in the report and skipped; PreprocessError when no file
    is usable.
    """
    exp_dir = Path(exp_dir)
    sink = sink or QuietSink()
    if sample_rate not in SAMPLE_RATES_HZ:
        raise PreprocessError(f"unknown sample rate {sample_rate!r}; expected one of {', '.join(SAMPLE_RATES_HZ)}")
    rate_hz = SAMPLE_RATES_HZ[sample_rate]
    dataset = Path(dataset).resolve()
    files, left_out = dataset_files(dataset, roots)
    for entry in left_out:
        sink.log(f"{entry['file']}: {entry['reason']}", level="warning")
    if config_file is not None:
        write_json_atomic(exp_dir / RUN_CONFIG_FILE, read_run_config(config_file, sample_rate))
    for folder in (GT_WAVS, WAVS_16K):
        (exp_dir / folder).mkdir(parents=True, exist_ok=True)

    record = StepRecord.load(exp_dir, STAGE)
    jobs = _plan(exp_dir, record, files, {"sample_rate_hz": rate_hz, "dataset": str(dataset),
                                          "piece_s": PIECE_S, "overlap_s": OVERLAP_S})
    sink.progress(STAGE, 0, len(jobs), f"{len(jobs)} of {len(files)} files to process")
    workers = ["cpu"] * max(1, min(n_proc, len(jobs)))
    try:
        finished = run_workers(_process_file, jobs, _Worker, (rate_hz, str(exp_dir)), workers, processes=True)
        for done, ((path, _), outcome) in enumerate(finished, start=1):
            record.done(Path(path).name, outcome)
            record.checkpoint()
            if outcome.get("error"):
                sink.log(outcome["error"], level="warning")
            sink.progress(STAGE, done, len(jobs), Path(path).name)
    finally:
        record.save()

    report = _report(dataset, sample_rate, record.outputs, [Path(path).name for path, _ in jobs], left_out)
    write_json_atomic(exp_dir / REPORT_FILE, report)
    if not report["clips"]:
        problems = [entry["error"] for entry in report["unreadable"]]
        problems += [f"{entry['file']}: {entry['reason']}" for entry in left_out]
        raise PreprocessError(f"{dataset}: no readable audio ({'; '.join(problems)})")
    return report


def preprocessed_sample_rate(exp_dir: str | os.PathLike[str]) -> str | None:
    """The rate ("40k") the experiment's pieces were made at, from the preprocess step record (None: unknown)."""
    params = StepRecord.load(exp_dir, STAGE).params or {}
    rate_hz = params.get("sample_rate_hz")
    return next((name for name, hz in SAMPLE_RATES_HZ.items() if hz == rate_hz), None)


def read_run_config(path: str | os.PathLike[str], sample_rate: str) -> dict[str, Any]:
    """A user's run config, checked enough to fail here rather than at training: JSON with the original's
    train/data/model sections and ``data.sampling_rate`` equal to ``sample_rate``."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PreprocessError(f"{path}: cannot read the run config ({error})") from error
    missing = [key for key in ("train", "data", "model") if not isinstance(config.get(key), dict)]
    if missing:
        raise PreprocessError(f"{path}: not a run config, no {', '.join(missing)} section")
    if config["data"].get("sampling_rate") != SAMPLE_RATES_HZ[sample_rate]:
        rate = config["data"].get("sampling_rate")
        raise PreprocessError(f"{path}: data.sampling_rate is {rate!r}, but the pieces are made at {sample_rate}")
    return config


def piece_names(folder: Path) -> set[str]:
    """The pieces in ``folder`` as the original names them: each visible file's name up to its first dot
    (``0_3.wav``, ``0_3.wav.npy``, ``0_3.npy`` and the trainer's ``0_3.spec.pt`` are all piece ``0_3``)."""
    if not folder.is_dir():
        return set()
    return {path.name.split(".")[0] for path in folder.glob("[!.]*")}


def audition_samples(exp_dir: str | os.PathLike[str], k: int = 5, seed: int | None = None) -> list[Path]:
    """Up to ``k`` random pieces of ``0_gt_wavs`` (what the model will learn from) to listen to."""
    pieces = sorted((Path(exp_dir) / GT_WAVS).glob("*.wav"))
    return random.Random(seed).sample(pieces, min(k, len(pieces)))


def _plan(exp_dir: Path, record: StepRecord, files: list[Path], params: dict[str, Any]) -> list[tuple[str, int]]:
    """(path, file index) of the files to process, after removing the pieces they (or vanished files) left."""
    previous = record.outputs
    inputs = stamp_files(files)
    todo = set(record.begin(params, inputs))
    if len(todo) == len(files) and not record.entries:
        # Everything is redone: pieces of other rates or datasets must not stay beside the new ones.
        _remove_pieces(exp_dir, sorted(piece_names(exp_dir / GT_WAVS) | piece_names(exp_dir / WAVS_16K)))
        indices = {path.name: position for position, path in enumerate(files)}
    else:
        for name, output in previous.items():
            if name in todo or name not in inputs:
                _remove_pieces(exp_dir, output.get("pieces", []))
        indices = {name: output["index"] for name, output in previous.items() if name in inputs}
        next_index = max(indices.values(), default=-1) + 1
        for offset, name in enumerate(sorted(todo - set(indices))):
            indices[name] = next_index + offset
    return [(str(path), indices[path.name]) for path in files if path.name in todo]


def _remove_pieces(exp_dir: Path, names: list[str]) -> None:
    """Delete pieces, and the trainer's spectrogram cache of each (which would be stale for new audio)."""
    for name in names:
        for path in (f"{GT_WAVS}/{name}.wav", f"{GT_WAVS}/{name}.spec.pt", f"{WAVS_16K}/{name}.wav"):
            (exp_dir / path).unlink(missing_ok=True)


class _Worker:
    """What a worker process needs for every file, built once per process by ``run_workers`` (``device`` is
    always "cpu": preprocessing has no model). Processes, not threads: decoding and slicing hold the GIL (two
    threads cut 30 clips in 0.25-0.28 s against one thread's 0.28-0.29 s)."""

    def __init__(self, sample_rate_hz: int, exp_dir: str, device: str) -> None:
        self.sample_rate_hz = sample_rate_hz
        self.exp_dir = Path(exp_dir)
        self.slicer = Slicer(sample_rate_hz)


def _process_file(worker: _Worker, job: tuple[str, int]) -> dict[str, Any]:
    """Slice, cut, level and write one dataset file; return what the report needs (or the decode error)."""
    path, index = job
    try:
        decoded = read_audio(path)
    except AudioError as error:
        return {"index": index, "error": str(error)}
    rate = worker.sample_rate_hz
    audio = np.clip(resample(to_mono(decoded.samples), decoded.sample_rate_hz, rate), -1.0, 1.0)
    audio = highpass_48hz(audio, rate, zero_phase=False)
    parts = worker.slicer.slice(audio)
    usable = [part for part in parts if len(part) >= MIN_PIECE_S * rate]
    pieces = [piece for part in usable for piece in cut_pieces(part, rate)]
    written, skipped = [], []
    for number, piece in enumerate(pieces):
        name = f"{index}_{number}"
        levelled = normalize_piece(piece)
        if levelled is None:
            skipped.append({"piece": name, "peak": float(np.abs(piece).max(initial=0.0))})
            continue
        _write_float_wav(worker.exp_dir / GT_WAVS / f"{name}.wav", levelled, rate)
        _write_float_wav(worker.exp_dir / WAVS_16K / f"{name}.wav",
                         resample(levelled, rate, SAMPLE_RATE_16K_HZ), SAMPLE_RATE_16K_HZ)
        written.append(name)
    return {
        "index": index,
        "pieces": written,
        "skipped_for_level": skipped,
        "source_rate_hz": decoded.sample_rate_hz,
        "duration_s": decoded.duration_s,
        "kept_s": sum(len(part) for part in parts) / rate,
        "usable_s": sum(len(part) for part in usable) / rate,
        "pieces_s": sum(len(piece) for piece in pieces) / rate,
        "samples": int(decoded.samples.size),
        "clipped_samples": int(np.count_nonzero(np.abs(decoded.samples) >= CLIPPED_LEVEL)),
    }


def _write_float_wav(path: Path, audio: np.ndarray, sample_rate_hz: int) -> None:
    """float32 wav (IEEE float), as the original writes its pieces."""
    from scipy.io import wavfile  # here: the services import this module for its names, and scipy.io costs 0.1 s

    with atomic_write(path) as temporary:
        wavfile.write(temporary, sample_rate_hz, np.asarray(audio, dtype=np.float32))


def _report(dataset: Path, sample_rate: str, outputs: dict[str, Any], processed: list[str],
            left_out: list[dict[str, str]]) -> dict[str, Any]:
    """The dataset report from the per-file outputs of the step record; ``processed``: the files this run cut
    (new or changed ones when the dataset grew); ``left_out``: the entries `dataset_files` did not hand on."""
    readable = {name: output for name, output in sorted(outputs.items()) if not output.get("error")}

    def total(key: str) -> float:
        return sum(output[key] for output in readable.values())

    total_s, kept_s, samples = total("duration_s"), total("kept_s"), total("samples")
    return {
        "dataset": str(dataset),
        "sample_rate": sample_rate,
        "files": len(outputs),
        "clips": len(readable),
        "pieces": sum(len(output["pieces"]) for output in readable.values()),
        "total_duration_s": round(total_s, 3),
        "kept_duration_s": round(kept_s, 3),
        "usable_duration_s": round(total("usable_s"), 3),
        "pieces_duration_s": round(total("pieces_s"), 3),
        "silent_fraction": round(1 - kept_s / total_s, 4) if total_s else 0.0,
        "clipped_fraction": round(total("clipped_samples") / samples, 6) if samples else 0.0,
        "source_sample_rates": dict(sorted(Counter(str(o["source_rate_hz"]) for o in readable.values()).items())),
        "too_short": [name for name, output in readable.items() if not output["usable_s"]],
        "skipped_for_level": [entry for output in readable.values() for entry in output["skipped_for_level"]],
        "unreadable": [{"file": name, "error": o["error"]} for name, o in sorted(outputs.items()) if o.get("error")],
        "left_out": left_out,
        "processed": len(processed),
        "processed_files": processed,
        "reused": len(outputs) - len(processed),
    }
