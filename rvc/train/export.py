"""Step 4b: the small inference model of a training checkpoint, into assets/weights (loadable by the original).

``steps/export.json`` records the checkpoint and name of the last export: exporting the same unchanged
checkpoint under the same name again returns that model (it is not an "exists" error, and nothing is rewritten).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rvc.config import get_paths
from rvc.synth.tools import extract_small_model
from rvc.train.steps import StepRecord, stamp_files

_NAME = re.compile(r"^[\w.\- ]{1,100}$")
STAGE = "export"


class ExportError(ValueError):
    """A checkpoint or name the export cannot use, or a model it would overwrite."""


def latest_checkpoint(exp_dir: Path) -> Path:
    """The G_*.pth with the highest step (the original's rule for resuming)."""
    candidates = sorted(exp_dir.glob("G_*.pth"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    if not candidates:
        raise ExportError(f"{exp_dir}: no G_*.pth checkpoint; train first (`python -m rvc train {exp_dir.name}`)")
    return candidates[-1]


def export_model(
    exp_dir: str | os.PathLike, checkpoint: str | None = None, name: str | None = None, overwrite: bool = False
) -> dict:
    """Write `assets/weights/<name>.pth` from ``checkpoint`` (a G_ file name in the experiment, default latest)."""
    exp_dir = Path(exp_dir)
    source = exp_dir / checkpoint if checkpoint else latest_checkpoint(exp_dir)
    if checkpoint and (Path(checkpoint).name != checkpoint or not source.is_file()):
        raise ExportError(f"{checkpoint!r} is not a checkpoint of {exp_dir.name} (expected a G_*.pth file name)")
    name = name or exp_dir.name
    if not _NAME.match(name):
        raise ExportError(f"model name {name!r} may use letters, digits, spaces, '.', '-' and '_' only")
    target = get_paths().weights / f"{name}.pth"
    record, params, inputs = StepRecord.load(exp_dir, STAGE), {"name": name}, stamp_files([source])
    previous = record.finished(params, inputs)
    if previous is not None and previous["model_path"] == str(target):
        return {**previous, "reused": True}
    if target.exists() and not overwrite:
        raise ExportError(f"{target} exists; choose another name or pass --overwrite")
    written = extract_small_model(source, target, info=f"{exp_dir.name} from {source.name}")
    result = {"model_path": str(written), "checkpoint": str(source), "name": name}
    record.finish(params, inputs, result, written=[written])
    return {**result, "reused": False}
