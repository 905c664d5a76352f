"""The job runner: a queue of tasks, each run as `python -m rvc ...` in its own process group, or, for
conversions, by the inference worker of its device; their events are stored and fanned out live.

Nothing heavy ever runs in the server process, so a crash, a CUDA OOM or a kill -9 ends one task, not the server.
Each resource ("cpu", "gpu:0", ...) has a number of slots (default one) and a queued task starts when its
resource has a free slot, oldest first.

Status changes (every one is also an event of type "status"; the terminal one is the task's last event)::

    queued  -> running -> completed | failed | cancelled | paused | interrupted
    queued  -> cancelled (never started) | failed (could not start)

A paused or interrupted training goes on as a new task with the same command (`resume`); the trainer picks up
its latest checkpoint. Cancelling a conversion kills its inference worker, the one way to stop it mid-file;
the next conversion starts a new worker (models load again).

Partial outputs: a conversion that did not complete leaves no file (its temporary file is removed); any other
task that did not complete lists the artifacts it announced under "partial_artifacts" in its result, for the
caller to keep (a training's checkpoints, to resume from) or delete.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from rvc.config import PROJECT_ROOT, Paths, get_paths
from rvc.jobs.fanout import AsyncSubscription, EventHub, Subscription
from rvc.jobs.inference import InferenceWorker
from rvc.jobs.process import GroupProcess, describe_exit, log_event, parse_line, pump
from rvc.jobs.records import STATUS_EVENT, Event, Owner, Progress, Task, TaskStatus
from rvc.jobs.store import JobStore

logger = logging.getLogger("rvc.jobs")

INFERENCE_KIND = "inference"
PAUSE_REQUEST = "pause.request"  # logs/<experiment>/pause.request: the trainer saves and stops when it appears
DEFAULT_GRACE_S = 10.0
STDERR_TAIL_LINES = 20
SCHEDULER_POLL_S = 1.0
INTERRUPTED_ERROR = "the server stopped while this task was running"
_RESOURCE = re.compile(r"^(cpu|mps|(gpu|xpu):\d+)$")  # gpu:N is CUDA GPU N (see device_of)
_METRIC_KEYS = ("type", "step", "epoch")


class JobStateError(ValueError):
    """The task is not in a state that allows the action (pause a finished task, resume a running one)."""


@dataclass
class _Running:
    """What the runner knows about a task while it runs."""

    task: Task
    process: GroupProcess | None = None  # None for a conversion: the inference worker runs it
    cancel_requested: bool = False
    server_stopping: bool = False
    result: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL_LINES))

    def outcome(self, code: int | None) -> tuple[TaskStatus, str | None]:
        """The terminal status, and the error text of a failure (last error events, exit, last stderr lines)."""
        result_status = (self.result or {}).get("status")
        if self.cancel_requested:
            return TaskStatus.CANCELLED, None
        if result_status == TaskStatus.PAUSED:
            return TaskStatus.PAUSED, None
        if result_status == TaskStatus.COMPLETED and code == 0:
            return TaskStatus.COMPLETED, None
        if self.server_stopping:
            return TaskStatus.INTERRUPTED, INTERRUPTED_ERROR
        exit_text = describe_exit(code) if code != 0 or result_status else "exited without a result"
        return TaskStatus.FAILED, "\n".join([*self.errors[-5:], exit_text, *self.stderr])


def device_of(resource: str) -> str:
    """The torch device of a resource: "gpu:1" -> "cuda:1"; "cpu", "xpu:N" and "mps" are torch's names already."""
    return resource.replace("gpu:", "cuda:", 1)


class JobRunner:
    """Runs tasks as child processes with a concurrency limit per resource; see the module's docstring.

    ``command`` is what argv is appended to (default ``python -m rvc``) and ``worker_command`` starts an
    inference worker (default ``python -m rvc.jobs.worker``); tests put stand-ins there. ``env`` is added to
    this process's environment for the children, with ``RVC_HOME`` set to ``paths.home``.
    """

    def __init__(
        self,
        store: JobStore,
        paths: Paths | None = None,
        max_concurrent: Mapping[str, int] | None = None,
        command: Sequence[str] | None = None,
        worker_command: Sequence[str] | None = None,
        grace_s: float = DEFAULT_GRACE_S,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike = PROJECT_ROOT,
    ) -> None:
        self.store = store
        self.paths = paths or get_paths()
        self.max_concurrent = dict(max_concurrent or {})
        self.command = list(command or [sys.executable, "-m", "rvc"])
        self.worker_command = list(worker_command or [sys.executable, "-m", "rvc.jobs.worker"])
        self.grace_s = grace_s
        self.env = {**os.environ, **(env or {}), "RVC_HOME": str(self.paths.home), "PYTHONUNBUFFERED": "1"}
        self.cwd = Path(cwd)
        self._hub = EventHub(store)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # a task was queued or ended, or the runner is stopping
        self._running: dict[str, _Running] = {}
        self._workers: dict[str, InferenceWorker] = {}
        self._threads: list[threading.Thread] = []
        self._scheduler: threading.Thread | None = None
        self._stopping = False

    # --- life cycle ---------------------------------------------------------------------------------------

    def start(self) -> JobRunner:
        """Recover what a previous server left behind, then start scheduling."""
        self.recover()
        self._scheduler = threading.Thread(target=self._schedule_forever, name="job-scheduler", daemon=True)
        self._scheduler.start()
        return self

    def __enter__(self) -> JobRunner:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()

    def shutdown(self, terminate: bool = True) -> None:
        """Stop scheduling. With ``terminate``, stop the running tasks (SIGTERM, SIGKILL after the grace
        period; they end as interrupted, or paused if the trainer saved) and the inference workers, and wait.
        Without it the children run on until this process exits (then their lifeline ends them, see
        `rvc.jobs.lifeline`); the next server's `recover` marks their tasks interrupted.
        """
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
            running = list(self._running.values()) if terminate else []
            for task in running:
                task.server_stopping = True
                if task.process is not None:
                    task.process.terminate(self.grace_s)
            workers = list(self._workers.values()) if terminate else []
            threads = list(self._threads) if terminate else []
        for worker in workers:
            worker.stop(self.grace_s)
        for thread in [self._scheduler, *threads]:
            if thread is not None:
                thread.join(self.grace_s + 5)

    def recover(self) -> list[str]:
        """At start-up: tasks a dead server left running become interrupted (their orphaned processes are
        killed, an interrupted conversion's temporary output is removed); queued ones stay queued and will
        start. Returns the ids of the interrupted tasks.
        """
        interrupted = []
        with self._lock:
            for task in self.store.list_tasks(status=TaskStatus.RUNNING, limit=None).items:
                if task.id in self._running:
                    continue
                _kill_orphan(task)
                if task.kind == INFERENCE_KIND:
                    _remove_partial_output(task.params.get("output_path"))
                if self._end(task.id, TaskStatus.INTERRUPTED, error=INTERRUPTED_ERROR):
                    interrupted.append(task.id)
        return interrupted

    # --- actions ------------------------------------------------------------------------------------------

    def submit(
        self,
        kind: str,
        argv: Sequence[str] | None = None,
        params: Mapping[str, Any] | None = None,
        resource: str = "cpu",
        training_id: str | None = None,
        owner: Owner | None = None,
    ) -> str:
        """Queue a task (``owner``: who submits it, None without logins); return its id.

        ``argv`` are the arguments of ``python -m rvc`` (e.g. ``["train", "-e", "alice", ...]``). For kind
        "inference" there is no argv: ``params`` is the worker request (input_path, model, output_path,
        params, index, output_format). A training task names its experiment in ``params["experiment"]``
        (the folder under logs/), which `pause` needs.
        """
        if not _RESOURCE.match(resource):
            raise ValueError(f"resource {resource!r} is not 'cpu', 'gpu:N', 'xpu:N' or 'mps'")
        params = dict(params or {})
        if kind == INFERENCE_KIND:
            missing = {"input_path", "model"} - set(params)
            if missing or argv:
                raise ValueError(f"an inference task takes no argv and needs params {sorted(missing)}")
        elif not argv:
            raise ValueError(f"a {kind!r} task needs the arguments of `python -m rvc`")
        experiment = params.get("experiment")
        if experiment is not None and (not experiment or Path(experiment).name != experiment):
            raise ValueError(f"experiment {experiment!r} must be a folder name under logs/")
        with self._changed:  # the scheduler must not see the task before its "queued" event is out
            task = self.store.create_task(kind, list(argv or []), params, resource, training_id, owner)
            self._hub.publish(task.id, STATUS_EVENT, {"status": TaskStatus.QUEUED})
            self._changed.notify_all()
        return task.id

    def get(self, task_id: str) -> Task:
        return self.store.get_task(task_id)

    def cancel(self, task_id: str) -> Task:
        """Cancel a task: a queued one at once; a running one gets SIGTERM to its process group and SIGKILL
        after the grace period (a conversion: its worker is killed), and becomes cancelled when it has exited.
        Cancelling a finished task changes nothing.
        """
        with self._lock:
            task = self.store.get_task(task_id)
            running = self._running.get(task_id)
            if task.status is TaskStatus.QUEUED:
                self._end(task_id, TaskStatus.CANCELLED)
            elif running is not None and not running.cancel_requested:
                running.cancel_requested = True
                if running.process is not None:
                    running.process.terminate(self.grace_s)
                else:
                    self._workers[task.resource].kill()
            return self.store.get_task(task_id)

    def pause(self, task_id: str) -> Task:
        """Ask a running training to stop at its next step with a checkpoint: create its experiment's
        `pause.request`. The task becomes paused when the trainer exits with a "paused" result.
        """
        task = self.store.get_task(task_id)
        if task.status is not TaskStatus.RUNNING:
            raise JobStateError(f"only a running task can pause; this one is {task.status}")
        request = self._pause_request(task)
        if request is None:
            raise JobStateError(f"a {task.kind!r} task cannot pause: it names no experiment")
        request.parent.mkdir(parents=True, exist_ok=True)
        request.touch()
        return task

    def resume(self, task_id: str) -> str:
        """Run a paused or interrupted task's command again as a new task (a trainer resumes from its latest
        checkpoint); return the new task's id.
        """
        task = self.store.get_task(task_id)
        if task.status not in (TaskStatus.PAUSED, TaskStatus.INTERRUPTED):
            raise JobStateError(f"only a paused or interrupted task can resume; this one is {task.status}")
        return self.submit(task.kind, task.argv, task.params, task.resource, task.training_id)

    def wait(self, task_id: str, timeout: float | None = None) -> Task:
        """Block until the task has ended; TimeoutError if it has not within ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not (task := self.store.get_task(task_id)).done:
                remaining = SCHEDULER_POLL_S if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"task {task_id} is still {task.status} after {timeout} s")
                self._changed.wait(min(remaining, SCHEDULER_POLL_S))
            return task

    # --- events -------------------------------------------------------------------------------------------

    def subscribe(self, task_id: str, from_seq: int = 0) -> Subscription:
        """The task's events from ``from_seq``: the stored ones, then live ones, up to its final event."""
        self.store.get_task(task_id)
        subscription = Subscription()
        self._hub.attach(subscription, task_id, from_seq)
        return subscription

    async def stream(self, task_id: str, from_seq: int = 0) -> AsyncIterator[Event]:
        """`subscribe` for an event loop (SSE, WebSocket); the database work runs off the loop."""
        await asyncio.to_thread(self.store.get_task, task_id)
        subscription = AsyncSubscription(asyncio.get_running_loop())
        await asyncio.to_thread(self._hub.attach, subscription, task_id, from_seq)
        try:
            async for event in subscription:
                yield event
        finally:
            subscription.close()

    # --- scheduling ---------------------------------------------------------------------------------------

    def _slots(self, resource: str) -> int:
        return self.max_concurrent.get(resource, 1)

    def _schedule_forever(self) -> None:
        with self._changed:
            while not self._stopping:
                try:
                    self._schedule()
                except Exception:  # a database hiccup must not stop scheduling for good
                    logger.exception("scheduling failed")
                self._changed.wait(SCHEDULER_POLL_S)

    def _schedule(self) -> None:
        busy = Counter(running.task.resource for running in self._running.values())
        for task in self.store.list_tasks(status=TaskStatus.QUEUED, oldest_first=True, limit=None).items:
            if busy[task.resource] >= self._slots(task.resource):
                continue
            if task.kind == INFERENCE_KIND and self._worker(task.resource).busy:
                continue
            busy[task.resource] += 1
            self._start(task)

    def _worker(self, resource: str) -> InferenceWorker:
        if resource not in self._workers:
            self._workers[resource] = InferenceWorker(
                self.worker_command, device_of(resource), self.env, self.cwd,
                self._on_event, self._on_stderr, self._finish,
            )
        return self._workers[resource]

    def _start(self, task: Task) -> None:
        running = self._running[task.id] = _Running(task)
        self._clear_pause_request(task)
        try:
            if task.kind == INFERENCE_KIND:
                pid = self._worker(task.resource).run(task.id, task.params)
            else:
                running.process = GroupProcess([*self.command, *task.argv], self.env, self.cwd)
                pid = running.process.pid
        except OSError as error:
            running.errors.append(f"cannot start the process: {error}")
            self._finish(task.id, None)
            return
        self.store.set_status(task.id, TaskStatus.RUNNING, started=time.time(), pid=pid)
        self._hub.publish(task.id, STATUS_EVENT, {"status": TaskStatus.RUNNING, "pid": pid})
        if running.process is not None:
            thread = threading.Thread(
                target=self._supervise, args=(task.id, running.process), name=f"job-{task.id[:8]}", daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _supervise(self, task_id: str, process: GroupProcess) -> None:
        stderr = pump(process.popen.stderr, lambda line: self._on_stderr(task_id, line), f"job-{task_id[:8]}-err")
        stdout = pump(process.popen.stdout, lambda line: self._on_event(task_id, parse_line(line)),
                      f"job-{task_id[:8]}-out")
        code = process.wait()
        stdout.join()
        stderr.join()
        self._finish(task_id, code)

    # --- events from the children -------------------------------------------------------------------------

    def _on_event(self, task_id: str, event: dict[str, Any]) -> None:
        with self._lock:
            running = self._running.get(task_id)
            if running is None:
                return  # a straggler after the task ended (a worker's stderr line)
            kind = event["type"]
            self._hub.publish(task_id, kind, {key: value for key, value in event.items() if key != "type"})
            try:
                self._apply(running, kind, event)
            except (KeyError, TypeError, ValueError) as error:
                logger.warning("task %s: malformed %s event (%s): %s", task_id, kind, error, event)

    def _apply(self, running: _Running, kind: str, event: dict[str, Any]) -> None:
        """What an event changes besides the event log: progress, metrics, the outcome."""
        task = running.task
        if kind == "progress":
            progress = Progress(int(event["done"]), int(event["total"]), str(event["stage"]),
                                str(event.get("message", "")))
            self.store.set_progress(task.id, progress)
        elif kind == "metric" and task.training_id is not None:
            values = {key: value for key, value in event.items() if key not in _METRIC_KEYS}
            self.store.add_metric(task.training_id, int(event["step"]), int(event.get("epoch", 0)), values)
        elif kind == "result":
            running.result = event
        elif kind == "error":
            running.errors.append(str(event["message"]))
        elif kind == "artifact":
            running.artifacts.append(str(event["path"]))

    def _on_stderr(self, task_id: str, line: str) -> None:
        with self._lock:
            running = self._running.get(task_id)
            if running is not None:
                running.stderr.append(line)
                self._on_event(task_id, log_event(line, "stderr"))

    def _finish(self, task_id: str, code: int | None) -> None:
        """The task's process (or its worker's request) has ended: record the outcome."""
        with self._lock:
            running = self._running.pop(task_id, None)
            if running is None:
                return
            status, error = running.outcome(code)
            result = (running.result or {}).get("data")
            if status is not TaskStatus.COMPLETED and running.artifacts:
                result = {**(result or {}), "partial_artifacts": running.artifacts}
            if status is not TaskStatus.COMPLETED and running.task.kind == INFERENCE_KIND:
                _remove_partial_output(running.task.params.get("output_path"))
            self._clear_pause_request(running.task)
            self._end(task_id, status, error=error, result=result, exit_code=code)

    def _end(self, task_id: str, status: TaskStatus, exit_code: int | None = None, **fields: Any) -> bool:
        """Move the task to a terminal status, publish its final event, wake the scheduler and waiters."""
        with self._changed:
            if not self.store.set_status(task_id, status, finished=time.time(), **fields):
                return False
            self._hub.publish(task_id, STATUS_EVENT, {"status": status, "error": fields.get("error"),
                                                      "exit_code": exit_code})
            self._changed.notify_all()
            return True

    # --- pause requests -----------------------------------------------------------------------------------

    def _pause_request(self, task: Task) -> Path | None:
        experiment = task.params.get("experiment")  # a plain folder name: `submit` checked it
        return self.paths.logs / experiment / PAUSE_REQUEST if experiment else None

    def _clear_pause_request(self, task: Task) -> None:
        """A request left over from an earlier run must not pause the next one at its first step."""
        request = self._pause_request(task)
        if request is not None:
            request.unlink(missing_ok=True)


def _kill_orphan(task: Task) -> None:
    """Kill the process group a dead server left running for ``task``, if that process still exists: same pid
    and created when the task started (a recycled pid belongs to some other process). Jobs end by themselves
    when their server dies (`rvc.jobs.lifeline`); this catches one that could not, such as a job started by an
    older version. An orphaned inference worker is not matched (it started before its task): its lifeline ends it.
    """
    if task.pid is None or task.started is None:
        return
    try:
        created = psutil.Process(task.pid).create_time()
    except psutil.Error:
        return
    if abs(created - task.started) < 5.0:
        try:
            os.killpg(task.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _remove_partial_output(output_path: str | None) -> None:
    """Remove what a killed conversion left: `rvc.audio.write_audio` encodes to `.<name>.<hex>.tmp` beside the
    output and renames it at the end, so the output itself is either complete or absent.
    """
    if output_path:
        target = Path(output_path)
        for leftover in target.parent.glob(f".{target.name}.*.tmp"):
            leftover.unlink(missing_ok=True)
