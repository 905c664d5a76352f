"""Model services: the models of `assets/weights` with their metadata, the `.index` files, and the model tools
(rename, delete, info text, merge, ONNX export; importing from a URL is `rvc.service.importer`).

A model's id is its file stem. Reading a model's metadata loads the file, which a guest may have put there, so it
is read in a child process with limits (`rvc.jobs.model_inspection`), and what was read is cached in the job store
(keyed by size and modification time): a listing stays fast with many large models and starts no process when no
model is new.
"""

from __future__ import annotations

import os
import re
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rvc.config import get_paths
from rvc.jobs import JobStore, ModelRecord
from rvc.jobs.model_inspection import inspect_models
from rvc.retrieval import list_indexes as find_indexes
from rvc.service.errors import Conflict, NotFound
from rvc.service.jobs import command_argv, run_task, runner

MODEL_NAME = re.compile(r"^[\w\-][\w.\- ]{0,99}$")
FEATURE_DIMS = {"v1": 256, "v2": 768}  # the width of the content features a model of each version reads
_inspecting = threading.Lock()


def check_model_name(name: str) -> str:
    """A name usable as a file stem in `assets/weights` (no path parts, no leading dot) and, since experiments and
    models are named on the step commands' command lines, never one that reads as an option (a leading '-')."""
    if name.startswith("-"):
        raise ValueError(f"model name {name!r} starts with '-', which a command line reads as an option: "
                         "start it with a letter, digit or '_'")
    if not MODEL_NAME.match(name) or name.endswith((".", " ")):
        raise ValueError(f"model name {name!r}: use up to 100 letters, digits, spaces, '.', '-' and '_'")
    return name


def model_path(model_id: str) -> Path:
    """`assets/weights/<model_id>.pth`; NotFound when there is no such model."""
    path = get_paths().weights / f"{model_id}.pth"
    if not MODEL_NAME.match(model_id) or not path.is_file():
        raise NotFound(f"model {model_id!r} not found in assets/weights")
    return path


def model_record(path: Path) -> ModelRecord:
    """The model's metadata (see `model_records`); FileNotFoundError when the file is gone."""
    record = model_records([path]).get(path)
    if record is None:
        raise FileNotFoundError(f"{path}: the file is gone")
    return record


def model_records(paths: Sequence[Path]) -> dict[Path, ModelRecord]:
    """The metadata of each model file: the cached record where the file has not changed since it was read, else
    read now by one child process for all of them (`rvc.jobs.model_inspection`: the server never parses a
    stranger's file itself) and cached, a file that could not be read as a record with its ``error`` alone.

    A file that cannot be looked at (gone since it was listed) has no record.
    """
    store = runner().store
    records = {path: record for path in paths if (record := _cached(store, path))}
    stale = [path for path in paths if path not in records]
    if stale:
        with _inspecting:  # a burst of listings reads the new files once, in one child
            records |= {path: record for path in stale if (record := _cached(store, path))}
            records |= _read_records([path for path in stale if path not in records], store)
    return {path: records[path] for path in paths if path in records}


def _cached(store: JobStore, path: Path) -> ModelRecord | None:
    """The stored record of ``path`` if the file is as it was when the record was read."""
    try:
        stat = path.stat()
        cached = store.get_model(path.stem)
    except (OSError, LookupError):
        return None
    fresh = cached.path == str(path) and cached.size_bytes == stat.st_size and (cached.updated or 0) >= stat.st_mtime
    return cached if fresh else None


def _read_records(paths: list[Path], store: JobStore) -> dict[Path, ModelRecord]:
    read_at = time.time()  # before the files are looked at: a file changed while it is read is read again later
    sizes = {}
    for path in paths:
        try:
            sizes[path] = path.stat().st_size
        except OSError:
            continue
    records = {}
    for path, answer in inspect_models(list(sizes)).items():
        base = ModelRecord(model_id=path.stem, path=str(path), size_bytes=sizes[path], updated=read_at)
        info = answer.info
        record = replace(base, error=answer.error) if info is None else replace(
            base, version=info["version"], sample_rate=info["sample_rate"], f0=info["f0"], info=info["info"])
        records[path] = store.upsert_model(record)
    return records


def _index_roots() -> list[Path]:
    paths = get_paths()
    return [root for root in (paths.indices, paths.logs) if root.is_dir()]


def _linked_index(stem: str, indexes: dict[Path, list[Path]]) -> str | None:
    """The ecosystem's link of a model to its index (`rvc.retrieval.find_index_for_model`), over a listing made
    once for all models instead of one folder walk per model.
    """
    for root, found in indexes.items():
        for path in found:
            if stem in str(path.relative_to(root)):
                return str(path)
    return None


def _model_dict(path: Path, record: ModelRecord | None, indexes: dict[Path, list[Path]]) -> dict[str, Any]:
    if record is None:
        record = ModelRecord(model_id=path.stem, path=str(path), error=f"{path}: the file is gone")
    return replace(record, index_path=_linked_index(path.stem, indexes)).to_dict()


def list_models_detailed() -> list[dict[str, Any]]:
    """Every `.pth` of `assets/weights` with version, sample rate, f0, info text, size and linked index; a file
    that cannot be read is listed with its "error". The files not read before are read by one child process.
    """
    weights = get_paths().weights
    if not weights.is_dir():
        return []
    indexes = {root: find_indexes(root) for root in _index_roots()}
    paths = sorted(weights.glob("*.pth"))
    records = model_records(paths)
    return [_model_dict(path, records.get(path), indexes) for path in paths]


def model_detail(model_id: str) -> dict[str, Any]:
    path = model_path(model_id)
    return _model_dict(path, model_records([path]).get(path), {root: find_indexes(root) for root in _index_roots()})


def rename_model(model_id: str, new_name: str) -> dict[str, Any]:
    """Rename the file (its index keeps its name: link it again by renaming the index too, if it was linked)."""
    source = model_path(model_id)
    target = source.with_name(f"{check_model_name(new_name)}.pth")
    if target.exists():
        raise Conflict(f"a model named {new_name!r} exists")
    os.replace(source, target)
    runner().store.delete_model(model_id)
    return model_detail(new_name)


def delete_model(model_id: str) -> None:
    """Remove the model file and its cached metadata (its index stays: other models may use it)."""
    model_path(model_id).unlink()
    runner().store.delete_model(model_id)


def set_model_info(model_id: str, info: str) -> dict[str, Any]:
    """Store a new info text in the model file, by a task (the file is read there, not in the server)."""
    run_task("info", command_argv("info", [str(model_path(model_id))], [f"--text={info}"]), {"model": model_id})
    return model_detail(model_id)


def merge_models(first: str, second: str, alpha: float, name: str, info: str = "") -> dict[str, Any]:
    """``alpha * first + (1 - alpha) * second`` saved as a new model ``name`` (never over an existing one)."""
    target = get_paths().weights / f"{check_model_name(name)}.pth"
    if target.exists():
        raise Conflict(f"a model named {name!r} exists")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha={alpha} is out of range: use between 0 and 1")
    argv = command_argv("merge", [str(model_path(first)), str(model_path(second))],
                        ["--alpha", str(alpha), "--output", str(target), f"--info={info}"])
    run_task("merge", argv, {"model_a": first, "model_b": second, "alpha": alpha, "name": name})
    return model_detail(name)


def export_onnx(model_id: str) -> dict[str, str]:
    """`assets/onnx/<model_id>.onnx`, for runtimes without PyTorch (see `rvc.synth.onnx_export`), made by a task."""
    target = get_paths().assets / "onnx" / f"{model_id}.onnx"
    run_task("onnx", command_argv("onnx", [str(model_path(model_id))], ["--output", str(target)]), {"model": model_id})
    return {"path": str(target)}


# --- indexes ------------------------------------------------------------------------------------------------


def index_dim(path: str | os.PathLike) -> int:
    """The vector width of a faiss index file, from its header (a four-byte type code, then the width as int32),
    so that checking an index does not load its vectors.
    """
    with open(path, "rb") as file:
        header = file.read(8)
    if len(header) < 8:
        raise ValueError(f"{path}: not a faiss index (the file is too short)")
    return struct.unpack("<i", header[4:8])[0]


def check_index_fits(index: Path, record: ModelRecord) -> None:
    """A v1 model reads 256-d features and a v2 model 768-d ones: the index must hold the same width."""
    expected = FEATURE_DIMS.get(record.version or "")
    dim = index_dim(index)
    if expected is not None and dim != expected:
        raise ValueError(f"index {index.name} holds {dim}-d features but model {record.model_id} "
                         f"({record.version}) uses {expected}-d ones: choose another index or none")


def list_indexes() -> list[dict[str, Any]]:
    """The usable `.index` files under assets/indices and logs/, with their width."""
    found = []
    for root in _index_roots():
        for path in find_indexes(root):
            try:
                dim: int | None = index_dim(path)
            except (OSError, ValueError):
                dim = None
            found.append({"name": path.name, "path": str(path), "dim": dim, "size_bytes": path.stat().st_size})
    return found
