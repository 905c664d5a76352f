"""The runner with real child processes (the stand-in jobs of fake_job.py) and a real database."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest

from rvc.jobs import PAUSE_REQUEST, JobStateError, NotFoundError, TaskStatus
from tests.unit.jobs.conftest import TIMEOUT_S, gone, is_running, wait_for_event, wait_until


def statuses(runner, task_id) -> list[str]:
    return [e.data["status"] for e in runner.store.events(task_id) if e.type == "status"]


def test_a_job_runs_and_every_line_becomes_an_event(runner):
    task_id = runner.submit("index", ["progress:5", "print:plain text", "stderr:a warning", "result:completed"])
    task = runner.wait(task_id, TIMEOUT_S)
    assert task.status is TaskStatus.COMPLETED and task.error is None
    assert (task.progress.done, task.progress.total, task.progress.stage) == (5, 5, "fake")
    assert task.result["pid"] == task.pid and task.started <= task.finished
    events = runner.store.events(task_id)
    assert [e.seq for e in events] == list(range(len(events)))
    assert statuses(runner, task_id) == ["queued", "running", "completed"] and events[-1].final
    assert [e.data["done"] for e in events if e.type == "progress"] == [1, 2, 3, 4, 5]
    logs = {(e.data["stream"], e.data["message"]) for e in events if e.type == "log"}
    assert logs == {("stdout", "plain text"), ("stderr", "a warning")}
    assert [e.type for e in events].count("result") == 1


def test_late_subscribers_get_the_whole_history_then_live_events(runner):
    task_id = runner.submit("index", ["progress:1500", "sleep:0.2", "progress:500", "result:completed"])
    collected: list[tuple[int, list[int]]] = []

    def listen(from_seq: int) -> None:
        collected.append((from_seq, [event.seq for event in runner.subscribe(task_id, from_seq)]))

    threads = []
    for number in range(8):  # joining at different moments of a fast stream
        threads.append(threading.Thread(target=listen, args=(number * 100,)))
        threads[-1].start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(TIMEOUT_S)
    last = runner.store.last_event(task_id)
    assert last.final and last.data["status"] == "completed"
    assert len(collected) == 8
    for from_seq, seqs in collected:
        assert seqs == list(range(from_seq, last.seq + 1))
    after_the_end = list(runner.subscribe(task_id, last.seq + 1))  # a client that already saw everything
    assert after_the_end == []


def test_the_async_stream_replays_and_follows(runner):
    task_id = runner.submit("index", ["progress:50", "sleep:0.3", "progress:50", "result:completed"])

    async def collect(from_seq: int) -> list[int]:
        return [event.seq async for event in runner.stream(task_id, from_seq)]

    async def both() -> tuple[list[int], list[int]]:
        early = asyncio.create_task(collect(0))
        await asyncio.sleep(0.5)
        return await early, await collect(10)

    early, late = asyncio.run(both())
    last = runner.store.last_event(task_id).seq
    assert early == list(range(last + 1)) and late == list(range(10, last + 1))


@pytest.mark.parametrize("slots", [1, 2])
def test_the_concurrency_limit_of_a_resource(make_runner, slots):
    runner = make_runner(max_concurrent={"cpu": slots})
    ids = [runner.submit("extract", ["sleep:0.6", "result:completed"]) for _ in range(2)]
    first, second = (runner.wait(task_id, TIMEOUT_S).result for task_id in ids)
    overlapped = second["began"] < first["ended"]
    assert overlapped == (slots == 2)


def test_resources_are_limited_separately(runner):
    gpu = runner.submit("train", ["sleep:0.6", "result:completed"], resource="gpu:0")
    cpu = runner.submit("index", ["sleep:0.6", "result:completed"], resource="cpu")
    a, b = runner.wait(gpu, TIMEOUT_S).result, runner.wait(cpu, TIMEOUT_S).result
    assert b["began"] < a["ended"]


@pytest.mark.parametrize("ignores_sigterm", [False, True])
def test_cancel_ends_the_whole_process_group(runner, tmp_path, ignores_sigterm):
    pid_file = tmp_path / "pids"
    actions = (["ignore-term"] if ignores_sigterm else []) + [f"child:{pid_file}", "sleep:60"]
    task_id = runner.submit("train", actions)
    wait_until(pid_file.exists)
    job_pid, child_pid = map(int, pid_file.read_text().split())
    start = time.monotonic()
    runner.cancel(task_id)
    task = runner.wait(task_id, TIMEOUT_S)
    elapsed = time.monotonic() - start
    assert task.status is TaskStatus.CANCELLED and statuses(runner, task_id)[-1] == "cancelled"
    assert elapsed < runner.grace_s + 1.5
    assert (elapsed >= runner.grace_s) == ignores_sigterm  # SIGKILL waits for the grace period
    wait_until(lambda: gone(job_pid) and gone(child_pid), 5)


def test_cancel_of_a_queued_task_never_starts_it(runner):
    blocker = runner.submit("train", ["sleep:60"])
    queued = runner.submit("train", ["result:completed"])
    wait_until(lambda: is_running(runner, blocker))
    task = runner.cancel(queued)
    assert task.status is TaskStatus.CANCELLED and task.started is None
    assert statuses(runner, queued) == ["queued", "cancelled"]
    runner.cancel(blocker)
    assert runner.wait(blocker, TIMEOUT_S).status is TaskStatus.CANCELLED
    assert runner.cancel(blocker).status is TaskStatus.CANCELLED  # again: nothing changes


def test_a_killed_job_fails_with_its_last_lines_and_the_runner_goes_on(runner):
    task_id = runner.submit("train", ["stderr:loading the model", "stderr:CUDA out of memory", "sleep:60"])
    wait_for_event(runner, task_id, lambda e: e.data.get("message") == "CUDA out of memory")
    os.kill(runner.get(task_id).pid, signal.SIGKILL)
    task = runner.wait(task_id, TIMEOUT_S)
    assert task.status is TaskStatus.FAILED
    assert "killed by SIGKILL" in task.error and task.error.endswith("loading the model\nCUDA out of memory")
    assert runner.wait(runner.submit("index", ["result:completed"]), TIMEOUT_S).status is TaskStatus.COMPLETED


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        (["error:dataset is empty", "stderr:Traceback: ...", "exit:2"], ["dataset is empty", "exit code 2"]),
        (["result:completed", "exit:1"], ["exit code 1"]),  # a result does not make a failing exit a success
        (["print:no result"], ["exited without a result"]),
    ],
)
def test_failures_say_why(runner, actions, expected):
    task = runner.wait(runner.submit("preprocess", actions), TIMEOUT_S)
    assert task.status is TaskStatus.FAILED
    for text in expected:
        assert text in task.error


def test_a_command_that_cannot_start_fails(make_runner, tmp_path):
    runner = make_runner(command=[str(tmp_path / "missing")])
    task = runner.wait(runner.submit("index", ["x"]), TIMEOUT_S)
    assert task.status is TaskStatus.FAILED and "cannot start" in task.error


def test_pause_then_resume_a_training(runner, paths):
    training = runner.store.create_training("alice", "40k", True, "v2", "/data/alice")
    argv = ["train:alice:5000"]
    task_id = runner.submit("train", argv, {"experiment": "alice"}, "gpu:0", training.id)
    wait_for_event(runner, task_id, lambda e: e.type == "metric" and e.data["step"] >= 3)
    runner.pause(task_id)
    task = runner.wait(task_id, TIMEOUT_S)
    assert task.status is TaskStatus.PAUSED and not (paths.logs / "alice" / PAUSE_REQUEST).exists()
    steps = [metric.step for metric in runner.store.metrics(training.id)]
    assert steps == list(range(len(steps))) and len(steps) >= 4
    assert runner.store.metrics(training.id)[3].values["loss_g"] == pytest.approx(29.7)
    resumed = runner.resume(task_id)
    assert (runner.get(resumed).argv, runner.get(resumed).training_id) == (argv, training.id)
    wait_until(lambda: is_running(runner, resumed))
    runner.cancel(resumed)
    assert runner.wait(resumed, TIMEOUT_S).status is TaskStatus.CANCELLED
    with pytest.raises(JobStateError, match="only a running task"):
        runner.pause(resumed)
    with pytest.raises(JobStateError, match="only a paused or interrupted"):
        runner.resume(resumed)


def test_metrics_of_a_job_without_a_training_are_only_events(runner):
    task_id = runner.submit("train", ["metric:3", "result:completed"])
    runner.wait(task_id, TIMEOUT_S)
    assert [e.data["step"] for e in runner.store.events(task_id) if e.type == "metric"] == [0, 1, 2]


def test_what_cannot_be_submitted_or_paused(runner):
    with pytest.raises(ValueError, match="resource"):
        runner.submit("train", ["x"], resource="gpu")
    with pytest.raises(ValueError, match="arguments"):
        runner.submit("train", [])
    with pytest.raises(ValueError, match="needs params"):
        runner.submit("inference", params={"model": "tiny"})
    with pytest.raises(ValueError, match="folder name"):
        runner.submit("train", ["x"], {"experiment": "../etc"})
    task_id = runner.submit("index", ["sleep:60"])
    wait_until(lambda: is_running(runner, task_id))
    with pytest.raises(JobStateError, match="names no experiment"):
        runner.pause(task_id)
    with pytest.raises(NotFoundError):
        runner.subscribe("no-such-task")
