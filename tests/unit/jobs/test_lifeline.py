"""A server killed with SIGKILL takes its jobs along: every job process group ends within a second or two.

A real runner in a child process starts a job that watches its lifeline and has a child of its own, a job that
does not watch it (as a control: its own session keeps it alive), and a conversion in the inference worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rvc.jobs import TaskStatus
from rvc.jobs.lifeline import ENV_VAR, watch_parent
from tests.conftest import PROJECT_ROOT
from tests.unit.jobs.conftest import gone, wait_until

STOP_BOUND_S = 5.0

SERVER = """
import json, sys, time
from pathlib import Path
from rvc.config import Paths
from rvc.jobs import JobRunner, JobStore, TaskStatus
from tests.unit.jobs import fake_job, fake_worker

paths = Paths(Path(sys.argv[1]))
runner = JobRunner(JobStore(paths.database), paths, {"cpu": 2}, fake_job.COMMAND, fake_worker.COMMAND).start()
ids = [
    runner.submit("train", ["lifeline", f"child:{sys.argv[2]}", "sleep:60"], {"experiment": "bob"}),
    runner.submit("inference", params={"input_path": "a.wav", "model": "m", "params": {"sleep": 60}},
                  resource="gpu:0"),
    runner.submit("index", ["sleep:60"]),
]
while any(runner.get(task).status is not TaskStatus.RUNNING for task in ids):
    time.sleep(0.02)
print(json.dumps(ids), flush=True)
time.sleep(60)
"""


def test_jobs_of_a_killed_server_end_with_their_children(tmp_path: Path, paths, store, make_runner):
    pid_file = tmp_path / "pids"
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(paths.home), str(pid_file)],
                              cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    watched, conversion, unwatched = json.loads(server.stdout.readline())
    wait_until(lambda: pid_file.exists() and len(pid_file.read_text().split()) == 2)
    job_pid, grandchild_pid = map(int, pid_file.read_text().split())
    pids = [job_pid, grandchild_pid, store.get_task(conversion).pid]
    assert not any(gone(pid) for pid in pids)

    server.kill()
    server.wait()
    killed = time.monotonic()
    wait_until(lambda: all(gone(pid) for pid in pids), STOP_BOUND_S)
    print(f"\nthe jobs' processes were gone {time.monotonic() - killed:.2f} s after the server's kill")
    orphan = store.get_task(unwatched).pid
    assert not gone(orphan)  # without a lifeline a job outlives its server, until recovery

    runner = make_runner()
    assert [runner.get(task).status for task in (watched, conversion, unwatched)] == [TaskStatus.INTERRUPTED] * 3
    wait_until(lambda: gone(orphan), STOP_BOUND_S)


def test_only_a_pipe_named_by_the_runner_is_watched(tmp_path: Path, monkeypatch, capfd):
    monkeypatch.delenv(ENV_VAR, raising=False)
    watch_parent()  # a command typed in a terminal
    assert capfd.readouterr().err == ""
    with open(tmp_path / "file", "w") as not_a_pipe:
        for value in ("not a number", str(not_a_pipe.fileno())):
            monkeypatch.setenv(ENV_VAR, value)
            watch_parent()
            assert ENV_VAR not in os.environ  # the process's own children never see it
            assert "is not an open pipe" in capfd.readouterr().err
