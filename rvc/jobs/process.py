"""Child processes as process groups, and their output read line by line.

Every job is started as the leader of a new session, so one signal reaches it and everything it started
(DataLoader workers, ffmpeg, a crepe subprocess), and nothing it leaves behind outlives it. Every job also gets
the server's lifeline (`rvc.jobs.lifeline`), so the whole group ends when the server dies, even by kill -9.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from rvc.jobs import lifeline

logger = logging.getLogger("rvc.jobs")

# The event types a job may print (DESIGN.md); any other stdout line, JSON or not, is kept as log text.
JOB_EVENT_TYPES = frozenset({"progress", "metric", "log", "artifact", "result", "error"})

# The inference worker writes this on stderr after each request's result, followed by its task_id: stdout and
# stderr are read separately, and the marker says that every stderr line of the request has arrived.
END_OF_REQUEST = "\x1e rvc.jobs.worker: end of request "


def log_event(text: str, stream: str) -> dict[str, Any]:
    return {"type": "log", "level": "info", "stream": stream, "message": text}


def parse_line(line: str) -> dict[str, Any]:
    """One stdout line as a protocol event: the JSON object itself, or the line as a log event."""
    if line.startswith("{"):
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if isinstance(event, dict) and event.get("type") in JOB_EVENT_TYPES:
            return event
    return log_event(line, "stdout")


USER_ERROR_EXIT = 2  # a command's exit code for a user's mistake (a bad value, a missing file): `rvc.cli.common`


def describe_exit(code: int | None) -> str:
    if code is None:
        return "the process did not start"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def pump(stream: IO[str], on_line: Callable[[str], None], name: str) -> threading.Thread:
    """Read ``stream`` to its end on a daemon thread, handing each line (without its newline) to ``on_line``.

    A failing ``on_line`` is logged and reading goes on: a stalled reader would fill the pipe and block the child.
    """

    def read() -> None:
        with stream:
            for line in stream:
                try:
                    on_line(line.rstrip("\r\n"))
                except Exception:
                    logger.exception("handling a line from %s failed", name)

    thread = threading.Thread(target=read, name=name, daemon=True)
    thread.start()
    return thread


class GroupProcess:
    """A child leading its own process group; signals reach the whole group until the child is reaped.

    The leader is reaped only after the group is killed, and under a lock that `signal` takes too, so the group
    id can never be a recycled one when a signal is sent.
    """

    def __init__(
        self, command: Sequence[str], env: Mapping[str, str], cwd: str | os.PathLike, with_stdin: bool = False
    ) -> None:
        lifeline_fd = lifeline.child_fd()
        self.popen = subprocess.Popen(
            list(command), cwd=Path(cwd), env={**env, lifeline.ENV_VAR: str(lifeline_fd)}, start_new_session=True,
            pass_fds=(lifeline_fd,),
            stdin=subprocess.PIPE if with_stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
        self.pid = self.popen.pid
        self._lock = threading.Lock()
        self._reaped = False
        self._kill_timer: threading.Timer | None = None

    def signal(self, number: int) -> bool:
        """Send ``number`` to the whole group; False when it is already gone."""
        with self._lock:
            if self._reaped:
                return False
            try:
                os.killpg(self.pid, number)
            except ProcessLookupError:
                return False
            return True

    def exited(self) -> bool:
        """Whether the leader has exited (it stays unreaped: `wait` does that)."""
        with self._lock:
            if self._reaped:
                return True
            try:
                return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
            except ChildProcessError:
                return True

    def terminate(self, grace_s: float) -> None:
        """SIGTERM to the group now (a trainer saves and stops), SIGKILL to whatever is left after ``grace_s``."""
        self.signal(signal.SIGTERM)
        with self._lock:
            if self._kill_timer is None and not self._reaped:
                self._kill_timer = threading.Timer(grace_s, self.signal, (signal.SIGKILL,))
                self._kill_timer.daemon = True
                self._kill_timer.start()

    def wait(self) -> int:
        """Wait for the leader to exit, kill what it left in its group, reap it; return its exit code.

        A negative code is the signal that ended it (-9: SIGKILL), as in `subprocess`.
        """
        os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
        self.signal(signal.SIGKILL)
        with self._lock:
            self._reaped = True
            if self._kill_timer is not None:
                self._kill_timer.cancel()
        return self.popen.wait()
