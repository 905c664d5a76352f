"""The server's lifeline to its job processes: when the server dies, however it dies, its jobs stop with it.

The server holds the write end of a pipe for its whole life and never writes to it; every job process gets the
read end (its number in `RVC_LIFELINE_FD`) and watches it on a thread. The kernel closes the write end when the
server exits, kill -9 included, so the read returns end-of-file and the job kills its whole process group at
once: itself, DataLoader workers, DDP ranks, pool workers. That is what the next server's recovery does to an
orphan anyway, only minutes earlier: checkpoints and outputs are written atomically (a killed conversion leaves a
temporary file that recovery removes), the task shows as interrupted after a restart, and a training resumes
from its latest checkpoint. A trainer is not asked to pause instead: its step may be long, its events would go
to a dead pipe, and its helper processes need the group kill all the same.

A pipe rather than Linux's PR_SET_PDEATHSIG, which fires when the *thread* that started the child ends (not the
server process) and reaches the child alone, not its group; a pipe also works on macOS. POSIX only, like the
runner's process groups; the module imports anywhere.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import threading

ENV_VAR = "RVC_LIFELINE_FD"

_lock = threading.Lock()
_ends: tuple[int, int] | None = None  # (read, write) in the server process


def child_fd() -> int:
    """The read end to hand to a job process (pass it with ``pass_fds``, its number in `ENV_VAR`).

    The pipe is made on first use. Both ends are non-inheritable, so only the jobs that are given the read end get
    it, and a process forked from this one (without exec) closes its copy of the write end at once: the copy would
    keep the jobs alive after this process died.
    """
    global _ends
    with _lock:
        if _ends is None:
            _ends = os.pipe()
            os.register_at_fork(after_in_child=_forget_in_fork)
        return _ends[0]


def _forget_in_fork() -> None:
    global _ends
    if _ends is not None:
        os.close(_ends[1])
        os.close(_ends[0])
        _ends = None


def watch_parent() -> None:
    """In a job process: kill this process group when the server that started it dies.

    Does nothing in a process not started by the job runner (a command typed in a terminal). The variable is
    removed from the environment, so processes this one starts never take another file for the lifeline.
    """
    value = os.environ.pop(ENV_VAR, None)
    if value is None:
        return
    try:
        fd = int(value)
        is_pipe = stat.S_ISFIFO(os.fstat(fd).st_mode)
    except (ValueError, OSError):
        is_pipe = False
    if not is_pipe:
        print(f"{ENV_VAR}={value!r} is not an open pipe: this job will not stop if its server dies", file=sys.stderr)
        return
    threading.Thread(target=_wait_for_end, args=(fd,), name="lifeline", daemon=True).start()


def _wait_for_end(fd: int) -> None:
    while os.read(fd, 512):  # the server writes nothing; end-of-file means it is gone
        pass
    if os.getpgrp() == os.getpid():  # a job leads its own session (`rvc.jobs.process.GroupProcess`)
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)  # anything else ends itself only
