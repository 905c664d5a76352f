"""The one job runner of a server process, shared by every front end, and what the services need around it.

webui.py starts it at launch (which also marks the tasks a dead server left running as interrupted) and stops it
at exit; anything that needs it before then starts it lazily, so a script or a test can use the services alone.
The runner's own errors are translated here into the service's (`rvc.service.errors`), so front ends see one
vocabulary.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rvc.config import get_paths
from rvc.devices import accelerators, default_device
from rvc.jobs import JobRunner, JobStateError, JobStore, NotFoundError, Owner
from rvc.jobs.process import USER_ERROR_EXIT, describe_exit
from rvc.security import serve_clients
from rvc.service.errors import Conflict, NotFound
from rvc.settings import load_settings
from rvc.vocabulary import AUTO_DEVICES

_lock = threading.Lock()
_runner: JobRunner | None = None


def start_jobs(max_cpu_jobs: int = 1, **options: Any) -> JobRunner:
    """Open `logs/webui.db` and start the runner (recovering after a dead server); a second call changes nothing.

    ``max_cpu_jobs`` is how many tasks may run on the CPU at once; ``options`` go to `JobRunner` (tests put
    stand-in commands there). A process with a runner serves clients, so from now on the model and index paths
    that conversions are given must lie in the allowed roots too (`rvc.security.serve_clients`). A database that
    cannot be opened (full disk, read-only folder, not a database) raises `rvc.jobs.StoreOpenError`, whose
    message says what to do.
    """
    global _runner
    if max_cpu_jobs < 1:
        raise ValueError(f"max_cpu_jobs={max_cpu_jobs} must be at least 1")
    with _lock:
        if _runner is None:
            paths = get_paths()
            _runner = JobRunner(JobStore(paths.database), paths, {"cpu": max_cpu_jobs}, **options).start()
            serve_clients(True)
        return _runner


def stop_jobs() -> None:
    """Stop the running tasks (they end interrupted, or paused if a trainer saved) and close the database."""
    global _runner
    with _lock:
        stopping, _runner = _runner, None
    if stopping is not None:
        serve_clients(False)
        stopping.shutdown()
        stopping.store.close()


def runner() -> JobRunner:
    """The process's runner, started on first use."""
    return _runner or start_jobs()


@contextmanager
def job_errors() -> Iterator[None]:
    """Re-raise the runner's and the store's errors as the service's."""
    try:
        yield
    except NotFoundError as error:
        raise NotFound(str(error)) from error
    except JobStateError as error:
        raise Conflict(str(error)) from error


def command_argv(command: str, positional: Sequence[str], options: Sequence[str] = ()) -> list[str]:
    """The arguments of `python -m rvc <command>`: its options, then ``--`` and the positional arguments, so that a
    name or path someone chose (an experiment called "-h", a dataset "--config=x") is never read as an option."""
    return [command, *options, "--", *positional]


def submit(
    kind: str, argv: Sequence[str] | None = None, params: dict[str, Any] | None = None, resource: str = "cpu",
    training_id: str | None = None, owner: Owner | None = None,
) -> dict[str, Any]:
    """Queue a task (see `JobRunner.submit`) and return it as plain data (`Task.to_dict`); ``owner``: who submits
    it (None on a server without logins)."""
    with job_errors():
        active = runner()
        return active.get(active.submit(kind, argv, params, resource, training_id, owner)).to_dict()


def run_task(kind: str, argv: Sequence[str], params: dict[str, Any]) -> dict[str, Any]:
    """Run a short action as a task and wait for it: it is in the task history, can be cancelled from there, and a
    crash or out-of-memory takes down its process, not the server. The task's error is raised as a ValueError
    (a user's mistake, as the command's exit code 2 says) or RuntimeError; a cancelled one is a Conflict."""
    task = submit(kind, argv, params)
    with job_errors():
        done = runner().wait(task["id"]).to_dict()
    if done["status"] == "completed":
        return done
    if done["status"] == "cancelled":
        raise Conflict(f"the {kind} task {done['id']} was cancelled")
    error = done["error"] or f"the {kind} task {done['id']} {done['status']}"
    # the runner's error is the command's error lines, then how it exited (`describe_exit`), then its stderr
    mistake = f"\n{describe_exit(USER_ERROR_EXIT)}"
    raise (ValueError if mistake in error else RuntimeError)(error.split(mistake)[0])


def resource_of(devices: str) -> str:
    """The runner resource a step on ``devices`` (checked by `rvc.train.params`) occupies: "cpu" or its first GPU
    "gpu:N", whose slot the scheduler counts; "auto" is GPU 0 on a machine with CUDA GPUs, else the CPU."""
    text = devices.strip().lower()
    if text == AUTO_DEVICES:
        return "gpu:0" if any(found.device.startswith("cuda:") for found in accelerators()) else "cpu"
    first = re.match(r"\d+", text)
    return f"gpu:{first.group()}" if first else "cpu"


def conversion_resource() -> str:
    """Where conversions run: the `device` setting ("cpu", "cuda:N", "xpu:N", "mps"), "auto" meaning the first
    accelerator if any (`rvc.devices`)."""
    device = load_settings().device
    if device == "auto":
        device = str(default_device())
    return device.replace("cuda:", "gpu:", 1)


def require_command(name: str) -> None:
    """Refuse, before queuing, a task whose `python -m rvc` command this installation does not have."""
    commands = importlib.import_module("rvc.__main__").COMMANDS
    if name not in commands:
        raise NotImplementedError(f"this installation has no `python -m rvc {name}` command yet")
