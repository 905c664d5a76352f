"""Training: preprocess, extract, dataset, losses, trainer, index, export (one module per step).

Each step's entry point is named like its module (``rvc.train.preprocess.preprocess``,
``rvc.train.extract.extract``), so it is imported from the module: as a package attribute the name would be
the submodule. The names below are imported on first use (PEP 562), so that ``import rvc.train.preprocess``
in a worker process or a light command does not load torch through this file. Add a step's public names to
``_EXPORTS``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Slicer": "rvc.train.slicer",
    "StepRecord": "rvc.train.steps",
    "experiment_dir": "rvc.train.steps",
    "PreprocessError": "rvc.train.preprocess",
    "audition_samples": "rvc.train.preprocess",
    "ExtractError": "rvc.train.extract",
    "reference_step": "rvc.train.reference_replay",  # its module is named otherwise, or it would shadow it
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rvc.train' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
