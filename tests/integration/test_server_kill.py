"""kill -9 of the server (and of its inference worker) in the middle of a batch of conversions, then a restart.

The batch goes through the REST API as the Inference tab sends one: a conversion task per file, queued together.
Once the first output is done and the long third file is being converted, the server and every process it
started are killed at once, as a power cut or the OOM killer would. The restarted server (same RVC_HOME) must
show the running conversion as interrupted, keep the finished outputs whole, have no partial output under a final
name (nor a temporary one), and its database must pass `PRAGMA integrity_check`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import psutil
import pytest
import soundfile

from rvc.audio import read_audio
from tests.conftest import DATA_DIR
from tests.integration.conftest import start_webui, stop
from tests.integration.test_api import LONG_SOURCE, PM, final, home_env, make_home, wait_status

OUTPUT_RATE_HZ = 40_000
HOP_SAMPLES = 400  # 10 ms at 40 kHz: an output is its input's length, cut to whole frames
BATCH = [DATA_DIR / "voice_low" / "001.flac", DATA_DIR / "voice_low" / "002.flac", LONG_SOURCE,
         DATA_DIR / "voice_low" / "003.flac"]


def integrity(database: Path) -> str:
    """`PRAGMA integrity_check` through a connection of its own, as any other reader would open the file."""
    with sqlite3.connect(database) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def kill_with_children(pid: int) -> list[str]:
    """SIGKILL a process and everything it started (listed before the kill, while they are still its children);
    return their command lines.
    """
    server = psutil.Process(pid)
    family = [server, *server.children(recursive=True)]
    command_lines = [" ".join(process.cmdline()) for process in family]
    for process in family:
        process.kill()
    psutil.wait_procs(family, timeout=30)
    return command_lines


def check_output(path: Path, source: Path) -> None:
    """A whole file: it decodes, at the model's rate, to the input's duration."""
    decoded = read_audio(path)
    expected = soundfile.info(source).duration * OUTPUT_RATE_HZ
    assert decoded.sample_rate_hz == OUTPUT_RATE_HZ
    assert abs(decoded.samples.shape[1] - expected) <= 2 * HOP_SAMPLES, (path, decoded.samples.shape, expected)


@pytest.mark.slow
def test_a_server_killed_mid_batch_restarts_with_whole_outputs_and_a_sound_database(tmp_path: Path, rvc_home: Path):
    home = make_home(tmp_path / "home")
    env = home_env(home, rvc_home)
    process, url = start_webui(env, "--allowed-path", str(DATA_DIR))
    try:
        with httpx.Client(base_url=f"{url}api/v2", timeout=60) as api:
            tasks = []
            for source in BATCH:
                body = {"model_id": "tiny", "audio_path": str(source), "params": PM}
                answer = api.post("/inference/tasks", json=body)
                assert answer.status_code == 201, answer.text
                tasks.append(answer.json())
            assert final(api, tasks[0]["id"])[0] == "completed"
            wait_status(api, tasks[2]["id"], "running", timeout_s=120)
            killed = kill_with_children(process.pid)
        assert any("rvc.jobs.worker" in command for command in killed[1:]), killed
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
