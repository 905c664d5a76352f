"""Tasks as front ends see them: submit a conversion, list, inspect, cancel, delete, follow events, find outputs.

Everything a client sends is checked before a task is queued (the input path inside the allowed roots, the
model present, the parameters in range, the index as wide as the model's features), so a mistake is an error
at once rather than a task that fails a minute later.

``owner`` (an `Owner`, optional everywhere) is who submits or who asks. None: a server without logins, or the
server itself, which sees every task. An admin sees every task; a guest only those it submitted: another's task
is "not found", exactly like an unknown id, so not even its existence is told.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rvc.audio import SUPPORTED_OUTPUT_FORMATS
from rvc.config import get_paths
from rvc.infer import ParameterError
from rvc.infer.converter import AUTO_INDEX, as_params, resolve_index
from rvc.jobs import INFERENCE_KIND, TERMINAL_STATUSES, Owner, Task, TaskStatus
from rvc.security import PathNotAllowedError
from rvc.service.errors import AlreadyFinished, Conflict, NotFound
from rvc.service.files import client_path, is_guest, own_upload
from rvc.service.jobs import conversion_resource, job_errors, runner, submit
from rvc.service.models import check_index_fits, list_indexes, model_path, model_record
from rvc.service.pages import check_window, page

API_OUTPUTS = "api"  # conversions submitted as tasks write to outputs/api/<random>/, one folder per task


def _task(task_id: str, kind: str | None = None, owner: Owner | None = None) -> Task:
    """The task, which must be of ``kind`` when given (an inference id asked for as a one-click task is unknown)
    and one that ``owner`` may see."""
    with job_errors():
        task = runner().get(task_id)
    if (kind is not None and task.kind != kind) or (owner is not None and not owner.may_see(task)):
        raise NotFound(f"task {task_id!r} not found")
    return task


def get_task(task_id: str, kind: str | None = None, owner: Owner | None = None) -> dict[str, Any]:
    return _task(task_id, kind, owner).to_dict()


def list_tasks(
    kind: str | None = None, status: str | None = None, limit: int = 50, offset: int = 0, owner: Owner | None = None
) -> dict:
    """Tasks newest first, optionally of one kind and status; a guest's own only."""
    check_window(limit, offset)
    if status is not None and status not in {str(s) for s in TaskStatus}:
        raise ValueError(f"status {status!r} is unknown: use one of {', '.join(TaskStatus)}")
    only = None if owner is None or owner.sees_all else owner
    found = runner().store.list_tasks(status=status, kind=kind, limit=limit, offset=offset, owner=only)
    return page([task.to_dict() for task in found.items], found.total, limit, offset)


def cancel_task(task_id: str, kind: str | None = None, owner: Owner | None = None) -> dict[str, Any]:
    """Cancel a queued or running task; `AlreadyFinished` for one that has ended (the RVC WebUI v2 API's 400)."""
    task = _task(task_id, kind, owner)
    if task.done and task.status != TaskStatus.PAUSED:
        raise AlreadyFinished(f"task {task_id} is {task.status}: there is nothing to cancel")
    with job_errors():
        return runner().cancel(task_id).to_dict()


def wait_task(task_id: str, timeout: float | None = None) -> dict[str, Any]:
    """Block until the task has ended; TimeoutError after ``timeout`` seconds."""
    with job_errors():
        return runner().wait(task_id, timeout).to_dict()


def delete_task(task_id: str, with_outputs: bool = True, kind: str | None = None) -> None:
    """Forget a finished task and its events, and (``with_outputs``) remove the files it produced."""
    task = _task(task_id, kind)
    if not task.done:
        raise Conflict(f"task {task_id} is {task.status}: cancel it before deleting it")
    outputs = task_outputs(task_id) if with_outputs else []
    with job_errors():
        runner().store.delete_task(task_id)
    for output in outputs:
        path = Path(output["path"])
        path.unlink(missing_ok=True)
        _remove_task_folder(path.parent)


def _remove_task_folder(folder: Path) -> None:
    """The per-task folder of a conversion (outputs/api/<random>/), once empty; never any other folder."""
    if folder.parent == get_paths().home / "outputs" / API_OUTPUTS and not any(folder.iterdir()):
        folder.rmdir()


# --- events -------------------------------------------------------------------------------------------------


def task_events(task_id: str, from_seq: int = 0, owner: Owner | None = None) -> list[dict[str, Any]]:
    """The task's stored events from ``from_seq`` (the protocol line plus seq, task_id, created)."""
    _task(task_id, owner=owner)
    return [event.to_dict() for event in runner().store.events(task_id, from_seq)]


def follow_task(task_id: str, from_seq: int = 0, owner: Owner | None = None) -> Iterator[dict[str, Any]]:
    """The task's events from ``from_seq``: the stored ones, then live ones, ending after the final one."""
    _task(task_id, owner=owner)
    with job_errors():
        subscription = runner().subscribe(task_id, from_seq)
    with subscription:
        for event in subscription:
            yield event.to_dict()


async def stream_task(task_id: str, from_seq: int = 0) -> AsyncIterator[dict[str, Any]]:
    """`follow_task` for an event loop (SSE, WebSocket): the waiting happens off the loop's thread. It does not
    check an owner: a front end asks `get_task(task_id, owner=...)` first, to answer "not found" before streaming.
    """
    with job_errors():
        async for event in runner().stream(task_id, from_seq):
            yield event.to_dict()


def is_final(event: dict[str, Any]) -> bool:
    """Whether an event (as `follow_task` yields it) is the task's last: its terminal status."""
    return event["type"] == "status" and event.get("status") in TERMINAL_STATUSES


# --- outputs ------------------------------------------------------------------------------------------------


def task_outputs(task_id: str, kind: str | None = None, owner: Owner | None = None) -> list[dict[str, Any]]:
    """The files a task announced (its artifact events) that still exist inside the allowed roots."""
    _task(task_id, kind, owner)
    outputs: dict[str, dict[str, Any]] = {}
    for event in runner().store.events(task_id):
        if event.type != "artifact":
            continue
        try:
            path = client_path(event.data["path"])
        except (PathNotAllowedError, FileNotFoundError, KeyError):
            continue
        if path.is_file():
            stat = path.stat()
            outputs[str(path)] = {"name": path.name, "path": str(path), "kind": str(event.data.get("kind", "file")),
                                  "size_bytes": stat.st_size, "created_at": stat.st_mtime}
    return list(outputs.values())


def task_output_file(
    task_id: str, name: str, kind: str | None = None, file_type: str | None = None, owner: Owner | None = None
) -> Path:
    """One output of the task by file name (and artifact kind when given), for download."""
    for output in task_outputs(task_id, kind, owner):
        if output["name"] == name and file_type in (None, output["kind"]):
            return Path(output["path"])
    raise NotFound(f"task {task_id} has no output {name!r}")


# The v2 API's download types (its quick mode's `file_type`) and the artifact kinds each stands for, the first
# preferred: a one-click task's output is its test conversion (its trainer's previews are audio too), a conversion
# task's is its audio.
FILE_TYPES: dict[str, tuple[str, ...]] = {
    "output": ("test_audio", "audio"), "ref_audio": ("ref_audio",), "model": ("model",), "index": ("index",),
    "checkpoint": ("checkpoint",),
}


def task_output_of_type(task_id: str, file_type: str, owner: Owner | None = None) -> Path:
    """The task's newest output of ``file_type`` ("output", "ref_audio", "model", "index", "checkpoint")."""
    if file_type not in FILE_TYPES:
        raise ValueError(f"file_type {file_type!r}: use one of {', '.join(FILE_TYPES)}")
    outputs = task_outputs(task_id, owner=owner)
    for kind in FILE_TYPES[file_type]:
        found = [item for item in outputs if item["kind"] == kind]
        if found:
            return Path(max(found, key=lambda item: item["created_at"])["path"])
    raise NotFound(f"task {task_id} has no {file_type} file (yet)")


# --- conversions --------------------------------------------------------------------------------------------


def submit_conversion(
    audio_path: str,
    model_id: str,
    params: dict[str, Any] | None = None,
    index: str | None = AUTO_INDEX,
    output_format: str = "wav",
    owner: Owner | None = None,
    f0_curves: bool = False,
) -> dict[str, Any]:
    """Queue the conversion of one file with a model of `assets/weights` for ``owner``; returns the task.

    ``index``: "auto" (the index named after the model, when there is one), None for none, or a path. The
    output goes to `outputs/api/<random>/<input>_<model>.<format>`, so tasks never overwrite each other's.
    ``f0_curves``: the worker also tracks the pitch of the input and the output (the result's "f0_curves").
    A guest converts its own uploads (with its own pitch curve) and an index of the listing only; any other file
    is answered as missing (`own_upload`).
    """
    guest = is_guest(owner)
    source = own_upload(audio_path, owner) if guest else client_path(audio_path)
    if not source.is_file():
        raise FileNotFoundError(f"{audio_path!r} is not a file")
    model = model_path(model_id)
    convert_params = as_params(with_confined_f0_file(params, owner))
    fmt = output_format.lower()
    if fmt not in SUPPORTED_OUTPUT_FORMATS:
        raise ParameterError(f"output_format {output_format!r} is not supported: use one of "
                             f"{', '.join(SUPPORTED_OUTPUT_FORMATS)}")
    index_path = None
    if guest and index not in (None, "", AUTO_INDEX) and index not in {entry["path"] for entry in list_indexes()}:
        raise NotFound(f"index {index!r} not found: choose one of the listed indexes, auto or none")
    if convert_params.index_rate > 0 and index not in (None, ""):
        index_path = resolve_index(index if index == AUTO_INDEX else client_path(index), model)
        if index_path is not None:
            check_index_fits(index_path, model_record(model))
    folder = get_paths().home / "outputs" / API_OUTPUTS / uuid.uuid4().hex[:12]
    output = folder / f"{source.stem}_{model.stem}.{fmt}"
    request = {
        "input_path": str(source), "model": str(model), "output_path": str(output), "params": asdict(convert_params),
        "index": str(index_path) if index_path else None, "output_format": fmt, "f0_curves": f0_curves,
    }
    return submit(INFERENCE_KIND, params=request, resource=conversion_resource(), owner=owner)


def with_confined_f0_file(params: dict[str, Any] | None, owner: Owner | None = None) -> dict[str, Any]:
    """The parameters with their `f0_file` (a client's path) resolved inside the allowed roots (for a guest: inside
    its uploads) before anything looks at the file, so no answer tells whether a file out of reach exists.
    """
    params = dict(params or {})
    f0_file = params.get("f0_file")
    if f0_file in (None, ""):
        params["f0_file"] = None
    elif not isinstance(f0_file, str):
        raise ParameterError(f"f0_file={f0_file!r}: give a path to a pitch curve file")
    else:
        params["f0_file"] = str(own_upload(f0_file, owner) if is_guest(owner) else client_path(f0_file))
    return params
