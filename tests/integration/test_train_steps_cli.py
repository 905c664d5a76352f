"""`python -m rvc preprocess` and `python -m rvc extract` as real processes, read through their JSON-lines events."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT


def run_rvc(env: dict[str, str], *args: str) -> tuple[int, list[dict]]:
    process = subprocess.run(
        [sys.executable, "-m", "rvc", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    events = [json.loads(line) for line in process.stdout.splitlines() if line.startswith("{")]
    assert process.returncode == 0 or any(event["type"] == "error" for event in events), process.stderr
    return process.returncode, events


def stages(events: list[dict]) -> dict[str, list[dict]]:
    progress: dict[str, list[dict]] = {}
    for event in events:
        if event["type"] == "progress":
            progress.setdefault(event["stage"], []).append(event)
    return progress


@pytest.fixture()
def train_env(tmp_path, rvc_home, data_dir) -> tuple[dict[str, str], Path]:
    """A fresh RVC_HOME, the session's thin embedder, and a dataset of 3 clips."""
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    for clip in sorted((data_dir / "voice_low").glob("*.flac"))[:3]:
        shutil.copy(clip, dataset / clip.name)
    env = dict(os.environ, RVC_HOME=str(tmp_path / "home"), RVC_EMBEDDER=str(rvc_home / "embedder"))
    return env, dataset


@pytest.mark.slow
def test_preprocess_then_extract_through_the_command_line(train_env):
    env, dataset = train_env
    logs = Path(env["RVC_HOME"]) / "logs"

    code, events = run_rvc(env, "preprocess", "voice", str(dataset), "--sr", "40k", "--n-proc", "2")
    assert code == 0
    progress = stages(events)["preprocess"]
    assert progress[-1]["done"] == progress[-1]["total"] == 3
    report = events[-1]
    assert report["type"] == "result" and report["status"] == "completed"
    assert report["data"]["clips"] == 3 and report["data"]["source_sample_rates"] == {"44100": 3}
    pieces = sorted((logs / "voice" / "0_gt_wavs").glob("*.wav"))
    assert len(pieces) == report["data"]["pieces"] > 0

    code, events = run_rvc(
        env, "extract", "voice", "--f0-method", "pm", "--version", "v2", "--devices", "cpu", "--n-proc", "2",
        "--seed", "1",
    )
    assert code == 0
    progress = stages(events)
    for stage in ("extract_f0", "extract_features"):
        assert progress[stage][-1]["done"] == progress[stage][-1]["total"] == len(pieces)
    result = events[-1]
    assert result["type"] == "result" and result["data"]["filelist_lines"] == len(pieces) + 2
    exp = logs / "voice"
    for folder, suffix in (("2a_f0", ".wav.npy"), ("2b-f0nsf", ".wav.npy"), ("3_feature768", ".npy")):
        assert sorted(p.name for p in (exp / folder).glob("*.npy")) == sorted(p.stem + suffix for p in pieces)
    lines = (exp / "filelist.txt").read_text().split("\n")
    assert all(Path(path).is_file() for line in lines for path in line.split("|")[:4])
    assert (logs / "mute" / "3_feature768" / "mute.npy").is_file()
    assert json.loads((exp / "config.json").read_text())["version"] == "v2"

    code, events = run_rvc(env, "extract", "voice", "--f0-method", "pm", "--devices", "cpu")
    assert code == 0 and events[-1]["data"]["features"]["reused"] == len(pieces)


def test_errors_are_events_with_a_nonzero_exit(train_env):
    env, _ = train_env
    code, events = run_rvc(env, "preprocess", "voice", "/no/such/dataset")
    assert code == 2 and events[-1]["type"] == "error" and "/no/such/dataset" in events[-1]["message"]
    code, events = run_rvc(env, "extract", "voice", "--f0-method", "pm", "--devices", "cpu")
    assert code == 2 and events[-1]["type"] == "error" and "preprocess" in events[-1]["message"]
