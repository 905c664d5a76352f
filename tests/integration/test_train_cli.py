"""`python -m rvc train` as a real subprocess: JSON-lines events, resume, SIGTERM pause, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.unit.train.tiny_experiment import make_experiment


def environment(home: Path) -> dict[str, str]:
    return dict(os.environ, RVC_HOME=str(home), OMP_NUM_THREADS="1", PYTHONPATH=str(PROJECT_ROOT))


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def rvc_train(home: Path, *args: str) -> tuple[int, list[dict]]:
    process = subprocess.run(
        [sys.executable, "-m", "rvc", "train", *args], cwd=PROJECT_ROOT, env=environment(home),
        capture_output=True, text=True, timeout=300,
    )
    return process.returncode, events_of(process.stdout)


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    make_experiment(tmp_path / "logs", name="voice")
    return tmp_path


def test_train_reports_json_lines_and_exports_the_model(home: Path):
    code, events = rvc_train(home, "voice", "--epochs", "2", "--batch-size", "4", "--save-every", "1",
                             "--sr", "40k", "--version", "v2", "--f0", "--name", "singer")
    assert code == 0, events
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "result" and events[-1]["status"] == "completed"
    metrics = [e for e in events if e["type"] == "metric" and "val_loss_mel" not in e]
    assert [(m["epoch"], m["step"]) for m in metrics] == [(1, 1), (1, 2), (1, 3), (2, 4), (2, 5), (2, 6)]
    artifacts = {(e["kind"], Path(e["path"]).name) for e in events if e["type"] == "artifact"}
    assert {("checkpoint", "G_6.pth"), ("checkpoint", "D_6.pth"), ("model", "singer.pth"),
            ("model", "singer_best.pth"), ("audio", "e2_s6.wav")} <= artifacts
    assert (home / "assets" / "weights" / "singer.pth").is_file()


def test_sigterm_pauses_and_a_second_run_continues(home: Path):
    process = subprocess.Popen(
        [sys.executable, "-m", "rvc", "train", "voice", "--epochs", "50", "--batch-size", "4", "--save-every", "50"],
        cwd=PROJECT_ROOT, env=environment(home), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if '"type": "metric"' in line:
            process.send_signal(signal.SIGTERM)
            break
    stdout, _ = process.communicate(timeout=120)
    events = events_of("".join(lines) + stdout)
    assert process.returncode == 0
    assert events[-1]["type"] == "result" and events[-1]["status"] == "paused"
    paused_step = events[-1]["data"]["step"]
    assert (home / "logs" / "voice" / f"G_{paused_step}.pth").is_file()

    code, resumed = rvc_train(home, "voice", "--epochs", "2", "--batch-size", "4", "--save-every", "1")
    assert code == 0
    steps = [e["step"] for e in resumed if e["type"] == "metric" and "val_loss_mel" not in e]
    assert steps == list(range(paused_step + 1, 7))


def test_errors_are_events_with_exit_code_2(home: Path):
    code, events = rvc_train(home, "missing", "--epochs", "1")
    assert code == 2 and events[-1]["type"] == "error" and "not found" in events[-1]["message"]
    code, events = rvc_train(home, "voice", "--sr", "48k")
    assert code == 2 and "prepared for 40000 Hz but 48k was asked" in events[-1]["message"]
    code, events = rvc_train(home, "voice", "--devices", "7")
    assert code == 2 and "GPU 7 is not available" in events[-1]["message"]
