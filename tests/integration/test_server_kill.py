"""kill -9 of the server in the middle of a batch of conversions and of a training, then a restart.

The batch goes through the REST API as the Inference tab sends one: a conversion task per file, queued together;
beside it a tiny training saves a checkpoint every epoch. Once the first output is done, the long third file is
being converted and the trainer has saved, the server alone is killed, as the OOM killer would. Its job processes
(the inference worker, the trainer, and whatever they started) must end by themselves within seconds
(`rvc.jobs.lifeline`), not run on unsupervised: no output or checkpoint appears afterwards and every checkpoint
loads. The restarted server (same RVC_HOME) must show the running conversion and the training as interrupted,
keep the finished outputs whole, have no partial output under a final name (nor a temporary one), and its
database must pass `PRAGMA integrity_check`.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import psutil
import pytest
import soundfile

from rvc.audio import read_audio
from rvc.jobs import JobStore, TaskStatus
from rvc.synth.checkpoint import read_torch_file
from tests.conftest import DATA_DIR
from tests.integration.conftest import start_webui, stop
from tests.integration.test_api import LONG_SOURCE, PM, final, home_env, make_home, wait_status
from tests.unit.jobs.conftest import gone, wait_until
from tests.unit.train.tiny_experiment import make_experiment, tiny_config

OUTPUT_RATE_HZ = 40_000
HOP_SAMPLES = 400  # 10 ms at 40 kHz: an output is its input's length, cut to whole frames
BATCH = [DATA_DIR / "voice_low" / "001.flac", DATA_DIR / "voice_low" / "002.flac", LONG_SOURCE,
         DATA_DIR / "voice_low" / "003.flac"]
TRAINING = "tiny"
TRAIN = {"total_epoch": 1000, "batch_size": 4, "save_every_epoch": 1}  # a checkpoint every 3 steps
STOP_BOUND_S = 2.0  # the server's job processes are gone within this after its kill
SETTLE_S = 3.0  # then nothing is written for this long (the trainer would save several times)


def integrity(database: Path) -> str:
    """`PRAGMA integrity_check` through a connection of its own, as any other reader would open the file."""
    with sqlite3.connect(database) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def seed_training(home: Path) -> str:
    """A tiny training whose preprocess and extract steps are done, recorded before the server starts; its id."""
    make_experiment(home / "logs", TRAINING)
    store = JobStore(home / "logs" / "webui.db")
    training = store.create_training(TRAINING, "40k", True, "v2", str(home / "dataset"), tiny_config())
    for kind in ("preprocess", "extract"):
        task = store.create_task(kind, [kind, TRAINING], {"experiment": TRAINING}, "cpu", training.id)
        store.set_status(task.id, TaskStatus.RUNNING, started=time.time())
        store.set_status(task.id, TaskStatus.COMPLETED, finished=time.time())
    store.close()
    return training.id


def kill_server(pid: int) -> tuple[list[str], float]:
    """SIGKILL the server alone; return the command lines of the processes it had started (listed before the
    kill, while they are still its children) and how many seconds after the kill the last of them was gone (a
    zombie counts as gone: it runs nothing, and whoever adopted it may reap it late).
    """
    server = psutil.Process(pid)
    family = server.children(recursive=True)
    command_lines = [" ".join(process.cmdline()) for process in family]
    server.kill()
    server.wait(30)
    killed = time.monotonic()
    while alive := [line for process, line in zip(family, command_lines, strict=True) if not gone(process.pid)]:
        assert time.monotonic() - killed < STOP_BOUND_S, f"still running {STOP_BOUND_S} s after the kill: {alive}"
        time.sleep(0.01)
    return command_lines, time.monotonic() - killed


def written_files(home: Path) -> list[Path]:
    """The conversions' outputs and the training's checkpoints."""
    return sorted([*(home / "outputs").rglob("*"), *(home / "logs" / TRAINING).glob("[GD]_*.pth")])


def check_output(path: Path, source: Path) -> None:
    """A whole file: it decodes, at the model's rate, to the input's duration."""
    decoded = read_audio(path)
    expected = soundfile.info(source).duration * OUTPUT_RATE_HZ
    assert decoded.sample_rate_hz == OUTPUT_RATE_HZ
    assert abs(decoded.samples.shape[1] - expected) <= 2 * HOP_SAMPLES, (path, decoded.samples.shape, expected)


@pytest.mark.slow
def test_a_server_killed_mid_batch_and_training_stops_its_jobs_and_restarts_soundly(tmp_path: Path, rvc_home: Path):
    home = make_home(tmp_path / "home")
    training_id = seed_training(home)
    env = home_env(home, rvc_home)
    process, url = start_webui(env, "--allowed-path", str(DATA_DIR), "--max-cpu-jobs", "2")
    try:
        with httpx.Client(base_url=f"{url}api/v2", timeout=60) as api:
            train = api.post(f"/trainings/{training_id}/train/start", json=TRAIN)
            assert train.status_code == 202, train.text
            tasks = []
            for source in BATCH:
                body = {"model_id": "tiny", "audio_path": str(source), "params": PM}
                answer = api.post("/inference/tasks", json=body)
                assert answer.status_code == 201, answer.text
                tasks.append(answer.json())
            assert final(api, tasks[0]["id"])[0] == "completed"
            wait_status(api, tasks[2]["id"], "running", timeout_s=120)
            wait_until(lambda: list((home / "logs" / TRAINING).glob("G_*.pth")), 120)
            command_lines, gone_s = kill_server(process.pid)
        print(f"\n{len(command_lines)} job processes gone {gone_s:.2f} s after the server's kill: {command_lines}")
        assert any("rvc.jobs.worker" in line for line in command_lines), command_lines
        assert any("-m rvc train" in line for line in command_lines), command_lines
        written = written_files(home)
        time.sleep(SETTLE_S)
        assert written_files(home) == written
        for checkpoint in (home / "logs" / TRAINING).glob("[GD]_*.pth"):
            assert read_torch_file(checkpoint)["iteration"] >= 1, checkpoint
        assert integrity(home / "logs" / "webui.db") == "ok"  # as the kill left it, before any restart
        interrupted_output = Path(tasks[2]["params"]["output_path"])
        leftover = interrupted_output.with_name(f".{interrupted_output.name}.0123456789ab.tmp")
        leftover.parent.mkdir(parents=True, exist_ok=True)
        leftover.write_bytes(b"RIFF half a file")  # what a kill in the middle of the write leaves

        process, url = start_webui(env, "--allowed-path", str(DATA_DIR))
        with httpx.Client(base_url=f"{url}api/v2", timeout=60) as api:
            statuses = [api.get(f"/inference/tasks/{task['id']}").json() for task in tasks]
            print("\nafter the restart:", [(Path(s["params"]["input_path"]).name, s["status"]) for s in statuses])
            assert [s["status"] for s in statuses[:3]] == ["completed", "completed", "interrupted"]
            assert "server stopped" in statuses[2]["error"] and final(api, tasks[2]["id"])[0] == "interrupted"
            assert statuses[3]["status"] in ("queued", "running", "completed")  # the queue goes on
            training = api.get(f"/tasks/{train.json()['id']}").json()
            assert training["status"] == "interrupted" and "server stopped" in training["error"]
            for task, source in zip(tasks[:2], BATCH[:2], strict=True):
                outputs = api.get(f"/inference/tasks/{task['id']}/outputs").json()
                assert [Path(o["path"]) for o in outputs] == [Path(task["params"]["output_path"])]
                check_output(Path(outputs[0]["path"]), source)
            assert api.get(f"/inference/tasks/{tasks[2]['id']}/outputs").json() == []
        assert not interrupted_output.exists() and not leftover.exists()
        assert not list((home / "outputs").rglob("*.tmp"))
        assert integrity(home / "logs" / "webui.db") == "ok"
    finally:
        if process.poll() is None:
            stop(process)
