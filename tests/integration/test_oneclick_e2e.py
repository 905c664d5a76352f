"""Training end to end on real speech with the tiny configuration: every step, then the new voice converts."""

from __future__ import annotations

import json
import subprocess
import sys

import faiss
import numpy as np
import pytest
import soundfile

from rvc.synth import load_synthesizer
from tests.conftest import DATA_DIR, PROJECT_ROOT
from tests.factories import write_small_embedder
from tests.unit.train.tiny_experiment import tiny_config


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    return write_small_embedder(tmp_path_factory.mktemp("embedder"))


def run_oneclick(home, embedder, name, dataset, epochs, tmp_path):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny_config("v2", True)))
    env = {"RVC_HOME": str(home), "RVC_EMBEDDER": str(embedder), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "rvc", "oneclick", name, str(dataset), "--preset", "fast", "--epochs", str(epochs),
         "--config", str(config)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def check_run(home, name, events):
    result = events[-1]
    assert result["type"] == "result" and result["status"] == "completed"
    data = result["data"]
    overall = [e["done"] for e in events if e["type"] == "progress" and e["stage"] == "oneclick"]
    assert overall == sorted(overall) and overall[-1] == 1000
    exp = home / "logs" / name
    # features (50 fps) and f0 (100 fps) line up for every piece
    for feature in (exp / "3_feature768").glob("*.npy"):
        f0 = np.load(exp / "2b-f0nsf" / f"{feature.stem}.wav.npy")
        assert 0 <= len(f0) - 2 * np.load(feature).shape[0] <= 3
    # Every logged loss is a finite number. (Whether the model learns is test_trainer's fixed-batch test: here a
    # few epochs of 0.1 s random crops of real speech move the epoch means by +-5 either way, seen in CI.)
    metrics = [e for e in events if e["type"] == "metric" and "loss_mel" in e]
    assert len(metrics) >= 3
    assert all(np.isfinite([m["loss_g"], m["loss_d"], m["loss_mel"], m["loss_kl"]]).all() for m in metrics)
    # the index has the original's name and one row per feature frame
    rows = sum(np.load(p).shape[0] for p in (exp / "3_feature768").glob("*.npy"))
    assert faiss.read_index(data["index_path"]).ntotal == rows and f"{name}_IVF" in data["index_path"]
    # the exported model loads through the public loader and its test conversion is real audio
    assert load_synthesizer(data["model_path"]).info.sample_rate == 40000
    audio, rate = soundfile.read(data["test_audio"])
    assert rate == 40000 and len(audio) > 0.5 * rate and np.isfinite(audio).all()
    return exp


@pytest.mark.slow
def test_clips_folder_end_to_end(tmp_path, embedder):
    dataset = tmp_path / "clips"
    dataset.mkdir()
    for clip in sorted((DATA_DIR / "voice_low").glob("*.flac"))[:6]:
        (dataset / clip.name).write_bytes(clip.read_bytes())
    home = tmp_path / "home"
    events = run_oneclick(home, embedder, "low", dataset, 4, tmp_path)
    exp = check_run(home, "low", events)
    report = json.loads((exp / "preprocess_report.json").read_text())
    assert report["source_sample_rates"] == {"44100": 6} or report["source_sample_rates"] == {44100: 6}


@pytest.mark.slow
def test_one_long_recording_is_sliced_at_its_pauses(tmp_path, embedder):
    from rvc.audio import load_audio, write_audio

    excerpt = tmp_path / "long.flac"
    write_audio(excerpt, load_audio(DATA_DIR / "voice_high_long.flac", 44100)[: 25 * 44100], 44100)
    home = tmp_path / "home"
    events = run_oneclick(home, embedder, "high", excerpt, 3, tmp_path)
    exp = check_run(home, "high", events)
    pieces = list((exp / "0_gt_wavs").glob("*.wav"))
    # about 7 sentences in 25 s, each at most 2 pieces of 3.7 s: several pieces, far fewer than 25 s / 0.3 s
    assert 4 <= len(pieces) <= 16
