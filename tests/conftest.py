"""Shared fixtures: where the reference fixtures and the test recordings live."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("RVC_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
REFERENCE_DIR = SHARED_DIR / "reference"
DATA_DIR = SHARED_DIR / "data"


def load_reference_json(name: str) -> dict:
    return json.loads((REFERENCE_DIR / name).read_text())


def load_reference_npz(name: str) -> dict[str, np.ndarray]:
    with np.load(REFERENCE_DIR / name, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE_DIR.is_dir():
        pytest.fail(f"reference fixtures not found at {REFERENCE_DIR} (../shared must sit beside the project)")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.fail(f"test recordings not found at {DATA_DIR} (../shared must sit beside the project)")
    return DATA_DIR
