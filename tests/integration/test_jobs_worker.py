"""Conversions as jobs through the real inference worker (`python -m rvc.jobs.worker`) and the tiny model."""

from __future__ import annotations

import os
import signal

import pytest
import soundfile

from rvc.audio import load_audio
from rvc.config import Paths
from rvc.jobs import JobRunner, JobStore, TaskStatus
from tests.conftest import DATA_DIR

TIMEOUT_S = 300
PM_DETERMINISTIC = {"f0_method": "pm", "noise_scale": 0, "index_rate": 0}


@pytest.fixture()
def runner(rvc_home, home_env, tmp_path):
    runner = JobRunner(JobStore(tmp_path / "webui.db"), Paths(rvc_home), env=home_env).start()
    yield runner
    runner.shutdown()
    runner.store.close()


@pytest.fixture()
def clip(tmp_path):
    """The first 3 s of a test recording."""
    path = tmp_path / "clip3s.wav"
    soundfile.write(path, load_audio(DATA_DIR / "voice_low" / "001.flac", 16000)[:48000], 16000)
    return path


def convert(runner: JobRunner, source, output) -> str:
    request = {"input_path": str(source), "model": "tiny", "output_path": str(output), "params": PM_DETERMINISTIC,
               "index": None}
    return runner.submit("inference", params=request, resource="cpu")


@pytest.mark.slow
def test_the_worker_keeps_models_loaded_and_survives_a_kill(runner, clip, tmp_path):
    first = runner.wait(convert(runner, clip, tmp_path / "1.wav"), TIMEOUT_S)
    second = runner.wait(convert(runner, clip, tmp_path / "2.wav"), TIMEOUT_S)
    assert first.status is second.status is TaskStatus.COMPLETED, first.error or second.error
    assert first.result["worker_pid"] == second.result["worker_pid"]
    assert first.result["cache_loads"] == second.result["cache_loads"] == 3  # synthesizer, embedder, pm: once
    assert second.finished - second.started < first.finished - first.started
    assert soundfile.info(second.result["output_path"]).samplerate == 40000
    assert [e.type for e in runner.store.events(second.id)].count("artifact") == 1

    killed = convert(runner, DATA_DIR / "source_speech_stereo48k.wav", tmp_path / "long.wav")  # 39 s: mid-task
    with runner.subscribe(killed) as events:
        next(e for e in events if e.type == "status" and e.data["status"] == "running")
    os.kill(runner.get(killed).pid, signal.SIGKILL)
    killed = runner.wait(killed, TIMEOUT_S)
    assert killed.status is TaskStatus.FAILED and "killed by SIGKILL" in killed.error
    assert not (tmp_path / "long.wav").exists()

    after = runner.wait(convert(runner, clip, tmp_path / "3.wav"), TIMEOUT_S)
    assert after.status is TaskStatus.COMPLETED, after.error
    assert after.result["worker_pid"] != first.result["worker_pid"] and after.result["cache_loads"] == 3
