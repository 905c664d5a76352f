"""Step 4a: the retrieval index of an experiment, built the original's way and linked into assets/indices.

``steps/index.json`` records the features it was built from, so a rerun over unchanged features (and an
untouched index) returns the previous result at once instead of training the IVF again.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from rvc.config import get_paths
from rvc.events import EventSink
from rvc.retrieval import build_index
from rvc.retrieval.build import BuiltIndex
from rvc.train.steps import StepRecord, stamp_files

FEATURE_DIRS = {"v1": "3_feature256", "v2": "3_feature768"}
STAGE = "index"


class IndexStepError(ValueError):
    """The experiment is not ready for an index (no features yet), named with what to run first."""


def experiment_version(exp_dir: Path) -> str:
    """The version recorded in the experiment's config.json by the extract step."""
    config = exp_dir / "config.json"
    try:
        version = json.loads(config.read_text()).get("version")
    except (OSError, ValueError):
        version = None
    if version not in FEATURE_DIRS:
        raise IndexStepError(f"{exp_dir}: no extracted features yet; run `python -m rvc extract {exp_dir.name}` first")
    return version


def train_index(exp_dir: str | os.PathLike, sink: EventSink | None = None, n_cpu: int | None = None) -> dict:
    """Build `added_IVF*_<exp>_<version>.index` from the features and copy it into assets/indices."""
    exp_dir = Path(exp_dir)
    sink = sink or EventSink()
    version = experiment_version(exp_dir)
    features = exp_dir / FEATURE_DIRS[version]
    inputs = stamp_files(sorted(features.glob("*.npy")))
    if not inputs:
        raise IndexStepError(f"{features}: no features; run `python -m rvc extract {exp_dir.name}` first")
    record, params = StepRecord.load(exp_dir, STAGE), {"version": version}
    previous = record.finished(params, inputs)
    if previous is not None:
        sink.progress(STAGE, 1, 1, f"up to date: {previous['ntotal']} vectors, features unchanged")
        sink.artifact("index", previous["index_path"])
        return {**previous, "reused": True}
    sink.progress(STAGE, 0, 1, "training the IVF index")
    built: BuiltIndex = build_index(features, exp_dir, exp_dir.name, version, n_cpu=n_cpu or os.cpu_count() or 1)
    linked = _link_into_assets(Path(built.added_path), exp_dir.name)
    sink.progress(STAGE, 1, 1, f"{built.ntotal} vectors in {built.n_ivf} lists")
    sink.artifact("index", str(linked))
    result = {"index_path": str(linked), "experiment_index": str(built.added_path), "n_ivf": built.n_ivf,
              "ntotal": built.ntotal, "version": version}
    record.finish(params, inputs, result, written=[built.added_path, linked])
    return {**result, "reused": False}


def _link_into_assets(added: Path, experiment: str) -> Path:
    """`assets/indices/<exp>_IVF...` (the original's name), a hard link where possible so no space is doubled."""
    target = get_paths().indices / f"{experiment}_{added.name.removeprefix('added_')}"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        os.link(added, temporary)
    except OSError:
        shutil.copyfile(added, temporary)
    os.replace(temporary, target)
    return target
