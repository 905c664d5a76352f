"""The runner's side of an inference worker (`rvc.jobs.worker`): one process per device, one request at a time.

The process is started on the first request and again after it died; its events are routed to the task in hand.
The task ends with the worker's "result" event (once the worker's stderr has caught up with it, so every log
line lands in the right task), or, if the worker dies first (a crash, CUDA OOM, kill -9, or `kill` to cancel),
with the worker's exit code; models load again in the next worker.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rvc.jobs.process import END_OF_REQUEST, GroupProcess, parse_line, pump

logger = logging.getLogger("rvc.jobs")

OnEvent = Callable[[str, dict[str, Any]], None]  # (task_id, event)
OnStderr = Callable[[str, str], None]  # (task_id, line)
OnDone = Callable[[str, int], None]  # (task_id, exit code: 0 once its result came, else the dead worker's)


@dataclass
class _Worker:
    """One worker process and the request it has in hand."""

    group: GroupProcess
    current: str | None = None
    awaiting: set[str] = field(default_factory=set)  # what ends the request: its "result" and the "stderr" marker


class InferenceWorker:
    """The worker for ``device``, started when needed; callbacks run on its reader threads."""

    def __init__(
        self, command: Sequence[str], device: str, env: Mapping[str, str], cwd: str | os.PathLike,
        on_event: OnEvent, on_stderr: OnStderr, on_done: OnDone,
    ) -> None:
        self.command = [*command, "--device", device]
        self.device = device
        self._env, self._cwd = env, cwd
        self._on_event, self._on_stderr, self._on_done = on_event, on_stderr, on_done
        self._lock = threading.Lock()
        self._live: _Worker | None = None  # the process new requests go to
        self._supervisors: list[threading.Thread] = []

    @property
    def busy(self) -> bool:
        live = self._live
        return live is not None and live.current is not None

    def run(self, task_id: str, request: Mapping[str, Any]) -> int:
        """Hand ``request`` to the worker (starting one if none is alive); return the worker's pid."""
        with self._lock:
            if self.busy:
                raise RuntimeError(f"the {self.device} worker is busy")
            if self._live is None or self._live.group.exited():
                self._live = self._spawn()
            live = self._live
            live.current, live.awaiting = task_id, {"result", "stderr"}
        try:
            live.group.popen.stdin.write(json.dumps({**request, "task_id": task_id}) + "\n")
            live.group.popen.stdin.flush()
        except OSError:
            pass  # the worker is dying; its supervisor reports the task when the process is gone
        return live.group.pid

    def kill(self) -> None:
        """Kill the worker (to cancel the task in hand: its supervisor reports it); the next request starts a
        new one.
        """
        with self._lock:
            live, self._live = self._live, None
        if live is not None:
            live.group.signal(signal.SIGKILL)

    def stop(self, grace_s: float) -> None:
        """Close the worker's stdin (it exits when idle), SIGTERM it, SIGKILL after ``grace_s``; wait for it."""
        with self._lock:
            live, self._live = self._live, None
            supervisors = list(self._supervisors)
        if live is not None:
            try:
                live.group.popen.stdin.close()
            except OSError:
                pass
            live.group.terminate(grace_s)
        for supervisor in supervisors:
            supervisor.join(grace_s + 5)

    def _spawn(self) -> _Worker:
        live = _Worker(GroupProcess(self.command, self._env, self._cwd, with_stdin=True))
        supervisor = threading.Thread(target=self._supervise, args=(live,), name=f"worker-{self.device}", daemon=True)
        self._supervisors = [thread for thread in self._supervisors if thread.is_alive()] + [supervisor]
        supervisor.start()
        return live

    def _supervise(self, live: _Worker) -> None:
        name = f"worker-{self.device}-{live.group.pid}"
        stderr = pump(live.group.popen.stderr, functools.partial(self._stderr_line, live), f"{name}-err")
        stdout = pump(live.group.popen.stdout, functools.partial(self._stdout_line, live), f"{name}-out")
        code = live.group.wait()
        stdout.join()
        stderr.join()
        with self._lock:
            task_id, live.current = live.current, None
            result_arrived = "result" not in live.awaiting
            if self._live is live:
                self._live = None
        logger.info("inference worker %s ended: %s", name, code)
        if task_id is not None:
            self._on_done(task_id, 0 if result_arrived else code)

    def _stdout_line(self, live: _Worker, line: str) -> None:
        event = parse_line(line)
        task_id = event.pop("task_id", None) or live.current
        if task_id is None or task_id != live.current:
            logger.warning("inference worker %s: an event for no task in hand: %s", self.device, line[:200])
            return
        self._on_event(task_id, event)
        if event["type"] == "result":
            self._arrived(live, task_id, "result")

    def _stderr_line(self, live: _Worker, line: str) -> None:
        if line.startswith(END_OF_REQUEST):
            self._arrived(live, line.removeprefix(END_OF_REQUEST), "stderr")
        elif live.current is None:
            logger.info("inference worker %s: %s", self.device, line)
        else:
            self._on_stderr(live.current, line)

    def _arrived(self, live: _Worker, task_id: str, part: str) -> None:
        """One of the two ends of a request came; when both have, the task is done and the worker free."""
        with self._lock:
            if live.current != task_id:
                return
            live.awaiting.discard(part)
            if live.awaiting:
                return
            live.current = None
        self._on_done(task_id, 0)
