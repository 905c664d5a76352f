"""Finding ``.index`` files on disk, by the original's naming conventions."""

from __future__ import annotations

import os
from pathlib import Path


def list_indexes(root: str | os.PathLike[str]) -> list[Path]:
    """Every usable ``.index`` under ``root``, sorted; ``trained_*`` files hold no vectors and are skipped."""
    return sorted(path for path in Path(root).rglob("*.index") if "trained" not in path.name)


def find_index_for_model(
    model_path_or_name: str | os.PathLike[str], index_root: str | os.PathLike[str]
) -> Path | None:
    """The first index (sorted) whose path below ``index_root`` contains the model file's stem, or None.

    RVC names indexes after the experiment (``added_IVF…_<exp>_v2.index`` in ``logs/<exp>/``), and
    models after it too, so the stem links a model to its index.
    """
    stem = Path(model_path_or_name).stem
    root = Path(index_root)
    return next((path for path in list_indexes(root) if stem in str(path.relative_to(root))), None)
