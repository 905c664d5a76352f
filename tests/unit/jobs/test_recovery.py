"""Start-up after a server died with tasks running, and a clean shutdown."""

from __future__ import annotations

import json
import subprocess
import sys

from rvc.jobs import TaskStatus
from tests.conftest import PROJECT_ROOT
from tests.unit.jobs.conftest import TIMEOUT_S, gone, is_running, wait_until


def test_tasks_of_a_dead_server_become_interrupted_and_the_queue_goes_on(make_runner, store, paths):
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.unit.jobs.crashing_server", str(paths.home)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True,
    )
    ids = json.loads(server.stdout.readline())
    server.kill()
    server.wait()
    orphan = store.get_task(ids["running"]).pid
    assert not gone(orphan)  # its own session: it outlived the server

    runner = make_runner()
    task = runner.get(ids["running"])
    assert task.status is TaskStatus.INTERRUPTED and "server stopped" in task.error
    assert runner.store.last_event(ids["running"]).data["status"] == "interrupted"
    wait_until(lambda: gone(orphan), 5)
    assert runner.wait(ids["queued"], TIMEOUT_S).status is TaskStatus.COMPLETED
    resumed = runner.resume(ids["running"])
    assert runner.get(resumed).params == {"experiment": "bob"}
    runner.cancel(resumed)


def test_shutdown_interrupts_running_tasks(make_runner):
    runner = make_runner()
    job = runner.submit("train", ["sleep:60"])
    conversion = runner.submit("inference", params={"input_path": "a.wav", "model": "m", "params": {"sleep": 60}},
                               resource="gpu:0")
    wait_until(lambda: is_running(runner, job) and is_running(runner, conversion))
    pids = [runner.get(job).pid, runner.get(conversion).pid]
    runner.shutdown()
    assert runner.get(job).status is TaskStatus.INTERRUPTED
    assert runner.get(conversion).status is TaskStatus.INTERRUPTED
    assert all(gone(pid) for pid in pids)
