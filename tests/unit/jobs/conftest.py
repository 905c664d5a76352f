"""A job store in a temporary RVC home and runners whose children are the stand-ins of this folder."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import psutil
import pytest

from rvc.config import Paths
from rvc.jobs import Event, JobRunner, JobStore, TaskStatus
from tests.conftest import PROJECT_ROOT
from tests.unit.jobs import fake_job, fake_worker

TIMEOUT_S = 20


@pytest.fixture()
def paths(tmp_path) -> Paths:
    return Paths(tmp_path / "home")


@pytest.fixture()
def store(paths) -> Iterator[JobStore]:
    store = JobStore(paths.database)
    yield store
    store.close()


@pytest.fixture()
def make_runner(store, paths) -> Iterator[Callable[..., JobRunner]]:
    """Start runners on the test's store (stopped at the end); keyword arguments go to JobRunner."""
    runners: list[JobRunner] = []

    def make(**options) -> JobRunner:
        defaults = {"command": fake_job.COMMAND, "worker_command": fake_worker.COMMAND, "grace_s": 2.0}
        options = defaults | {"cwd": PROJECT_ROOT} | options
        runner = JobRunner(store, paths, **options).start()
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.shutdown()


@pytest.fixture()
def runner(make_runner) -> JobRunner:
    return make_runner()


def wait_for_event(runner: JobRunner, task_id: str, predicate: Callable[[Event], bool]) -> Event:
    """The first event of the task (stored or live) that satisfies ``predicate``."""
    with runner.subscribe(task_id) as events:
        for event in events:
            if predicate(event):
                return event
    raise AssertionError(f"task {task_id} ended without the awaited event")


def wait_until(condition: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def is_running(runner: JobRunner, task_id: str) -> bool:
    return runner.get(task_id).status is TaskStatus.RUNNING


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting to be reaped counts as gone). A zombie main thread is not enough:
    the kernel reports a process's exit (`waitid`) only once its other threads (a job's lifeline watcher) have
    ended too.
    """
    try:
        process = psutil.Process(pid)
        return process.status() == psutil.STATUS_ZOMBIE and process.num_threads() == 1
    except psutil.NoSuchProcess:
        return True
