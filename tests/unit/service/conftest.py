"""An RVC home in a temporary folder with the tiny model, and the service's job runner on stand-in commands."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rvc import service
from tests.factories import tiny_pth
from tests.unit.jobs import fake_worker

# Stands in for `python -m rvc`: any step completes at once, its result naming the arguments it was given.
COMPLETE_ANY = [sys.executable, "-c", "import json, sys; print(json.dumps("
                "{'type': 'result', 'status': 'completed', 'data': {'argv': sys.argv[1:]}}))"]


@pytest.fixture()
def home(tmp_path: Path, monkeypatch) -> Path:
    """RVC_HOME with `assets/weights/tiny.pth`, an `uploads/` folder, and a thin embedder override (never read)."""
    home = tmp_path / "home"
    (home / "assets" / "weights").mkdir(parents=True)
    (home / "uploads").mkdir()
    shutil.copy(tiny_pth("tiny_v2_f0_40k"), home / "assets" / "weights" / "tiny.pth")
    monkeypatch.setenv("RVC_HOME", str(home))
    monkeypatch.setenv("RVC_EMBEDDER", str(home / "embedder"))
    return home


@pytest.fixture()
def jobs(home: Path) -> Iterator[None]:
    """The service's runner on this home, running stand-ins: steps complete at once, conversions are faked."""
    service.start_jobs(command=COMPLETE_ANY, worker_command=fake_worker.COMMAND, grace_s=2.0)
    yield
    service.stop_jobs()


def write_wav(path: Path, seconds: float = 0.5) -> Path:
    """A short silent 16 kHz WAV file."""
    import numpy as np
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.zeros(int(16000 * seconds), dtype=np.float32), 16000)
    return path


def write_settings(home: Path, **values) -> None:
    (home / "settings.json").write_text(json.dumps(values))
