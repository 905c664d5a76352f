"""Conversions through a long-lived worker process (the real request loop of rvc.jobs.worker, a stand-in
conversion): kept between tasks, replaced after a crash or a cancel.
"""

from __future__ import annotations

import os
import signal

import pytest

from rvc.jobs import TaskStatus
from tests.unit.jobs.conftest import TIMEOUT_S, gone, wait_for_event, wait_until


def convert(runner, resource: str = "cpu", output_path: str | None = None, **params) -> str:
    request = {"input_path": "in.wav", "model": "tiny", "output_path": output_path, "params": params}
    return runner.submit("inference", params=request, resource=resource)


def finished(runner, task_id: str):
    return runner.wait(task_id, TIMEOUT_S)


def test_one_worker_serves_task_after_task(runner):
    first, second = finished(runner, convert(runner)), finished(runner, convert(runner))
    assert first.status is second.status is TaskStatus.COMPLETED
    assert first.result["worker_pid"] == second.result["worker_pid"] == first.pid
    assert (first.result["served"], second.result["served"]) == (1, 2)
    events = runner.store.events(second.id)
    assert [e.data.get("status") for e in events if e.type == "status"] == ["queued", "running", "completed"]
    assert any(e.type == "log" and "library printing" in e.data["message"] for e in events)
    assert second.progress.done == 1 and all("task_id" not in e.data for e in events)


def test_each_device_has_its_own_worker(runner):
    cpu, gpu = convert(runner, "cpu", sleep=0.3), convert(runner, "gpu:0", sleep=0.3)
    cpu, gpu = finished(runner, cpu), finished(runner, gpu)
    assert (cpu.result["device"], gpu.result["device"]) == ("cpu", "cuda:0")
    assert cpu.pid != gpu.pid


def test_a_failing_request_leaves_the_worker_running(runner):
    failed = finished(runner, convert(runner, fail="model does not fit the index"))
    assert failed.status is TaskStatus.FAILED and "ValueError: model does not fit the index" in failed.error
    after = finished(runner, convert(runner))
    assert after.status is TaskStatus.COMPLETED and after.pid == failed.pid


@pytest.mark.parametrize("how", ["crash", "kill -9"])
def test_a_dead_worker_fails_its_task_and_is_replaced(runner, how):
    if how == "crash":
        task_id = convert(runner, crash=True)
    else:
        task_id = convert(runner, sleep=60)
        wait_for_event(runner, task_id, lambda e: e.type == "progress")
        os.kill(runner.get(task_id).pid, signal.SIGKILL)
    task = finished(runner, task_id)
    assert task.status is TaskStatus.FAILED
    if how == "crash":
        assert "exit code 139" in task.error and task.error.endswith("fatal: about to crash")
    else:
        assert "killed by SIGKILL" in task.error
    after = finished(runner, convert(runner))
    assert after.status is TaskStatus.COMPLETED and after.pid != task.pid and after.result["served"] == 1


def test_a_worker_that_died_while_idle_is_replaced_before_the_next_task(runner):
    first = finished(runner, convert(runner))
    os.kill(first.pid, signal.SIGKILL)
    wait_until(lambda: gone(first.pid))
    after = finished(runner, convert(runner))
    assert after.status is TaskStatus.COMPLETED and after.pid != first.pid


def test_cancel_kills_the_worker_and_removes_the_partial_output(runner, tmp_path):
    output = tmp_path / "out.wav"
    leftover = tmp_path / ".out.wav.0123456789ab.tmp"  # what an interrupted rvc.audio.write_audio leaves
    task_id = convert(runner, output_path=str(output), sleep=60)
    wait_for_event(runner, task_id, lambda e: e.type == "progress")
    leftover.write_bytes(b"half a file")
    runner.cancel(task_id)
    task = finished(runner, task_id)
    assert task.status is TaskStatus.CANCELLED and not leftover.exists()
    after = finished(runner, convert(runner))
    assert after.status is TaskStatus.COMPLETED and after.pid != task.pid


def test_conversions_wait_for_the_worker_of_their_device(make_runner):
    runner = make_runner(max_concurrent={"cpu": 3})
    ids = [convert(runner, sleep=0.2) for _ in range(3)]
    tasks = [finished(runner, task_id) for task_id in ids]
    assert [task.result["served"] for task in tasks] == [1, 2, 3]
    for before, after in zip(tasks, tasks[1:], strict=False):
        assert after.started >= before.finished
