"""What every tab shares: service errors shown to the user, the admin-only actions, following a job's events,
small formatters.

On a page with logins (see webui.py), a guest may convert uploaded audio and look around; the callbacks that
train, change or delete something, download assets or read a path on the server are refused to guests here, on
the server (`admin_only`, `require_admin`), since gradio_client can call any api_name. Tasks record who submitted
them (`task_owner`), and a guest lists, follows and cancels only its own.

A long action (preprocess, extract, train, index, export, one click, import, download) is a job: the service
returns its task dict and the tab follows the task's events with `follow`, yielding a `TaskView` after each
event so the page shows progress and log lines as they happen. The task goes on when the page closes.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gradio as gr

from rvc import service

# The service's errors a user can act on (see docs/service-contract.md); their message says what to do.
USER_ERRORS = (ValueError, FileNotFoundError, PermissionError, LookupError, NotImplementedError)
RUNNING_STATUSES = ("queued", "running")
LOG_LINES = 400  # lines kept in a log box
UPDATE_EVERY_S = 0.25  # at most this often a follower yields between two progress changes


def user_errors(fn: Callable) -> Callable:
    """Show the service's user errors as `gr.Error(message)` (a plain function or a generator callback)."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except USER_ERRORS as error:
                raise gr.Error(_message(error)) from error

        return generator

    @functools.wraps(fn)
    def plain(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except USER_ERRORS as error:
            raise gr.Error(_message(error)) from error

    return plain


def _message(error: Exception) -> str:
    # KeyError's str() is the repr of its argument; the others carry the service's sentence.
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


# --- who may do what -----------------------------------------------------------------------------------------

GUEST_REFUSED = "This needs an admin login: a guest may convert uploaded audio and look, nothing else."
_admins: frozenset[str] | None = None  # None: the page has no login, so whoever reaches it is the admin


def set_admins(usernames: Iterable[str] | None) -> None:
    """The admins' user names when the page asks for a login (webui.py sets them at start); any other login is a
    guest. None: no login."""
    global _admins
    _admins = None if usernames is None else frozenset(usernames)


def is_admin_user(username: str | None) -> bool:
    """Whether a login (None: none) is an admin's; on a page without logins everyone is."""
    return _admins is None or username in _admins


def is_admin(request: gr.Request | None) -> bool:
    return is_admin_user(getattr(request, "username", None))


def task_owner(request: gr.Request | None) -> service.Owner | None:
    """The caller as the service's task owner: its login and role; None on a page without logins (all is seen)."""
    if _admins is None:
        return None
    return service.Owner(getattr(request, "username", None),
                         service.ADMIN_ROLE if is_admin(request) else service.GUEST_ROLE)


def require_admin(request: gr.Request | None) -> None:
    """A `gr.Error` for a guest (for an input only an admin may use, e.g. a path on the server)."""
    if not is_admin(request):
        _refuse_guest()


_REQUEST = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                             annotation=gr.Request | None)


def _refuse_guest() -> None:
    raise gr.Error(GUEST_REFUSED)


def admin_only(fn: Callable) -> Callable:
    """The callback refused to guests (a plain function or a generator callback)."""
    return _for_admins(fn, _refuse_guest)


def admin_view(guest_view: Callable[[], Any]) -> Callable[[Callable], Callable]:
    """A callback that reads an admin's data (trainings, settings, server paths), which shows a guest
    ``guest_view()`` instead: what a server without that data shows. Page loads call it for every visitor, so a
    guest gets no error, and its answer is the same whatever exists."""
    return lambda fn: _for_admins(fn, guest_view)


def _for_admins(fn: Callable, on_guest: Callable[[], Any]) -> Callable:
    """``fn`` for admins and ``on_guest()`` (which may raise) for guests, checked on the server at each call.

    The wrapper's signature gains a last parameter ``request``, so Gradio passes it the `gr.Request` of the call;
    the callback itself is called without it. Gradio runs any event by its number, named or not, so the check is
    here and not in what the page shows.
    """
    signature = inspect.signature(fn)
    with_request = signature.replace(parameters=[*signature.parameters.values(), _REQUEST])

    def checked(args: tuple, kwargs: dict) -> tuple[inspect.BoundArguments, bool]:
        bound = with_request.bind(*args, **kwargs)
        return bound, is_admin(bound.arguments.pop("request", None))

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
            bound, admin = checked(args, kwargs)
            if admin:
                yield from fn(*bound.args, **bound.kwargs)
            else:
                yield on_guest()

    else:

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound, admin = checked(args, kwargs)
            return fn(*bound.args, **bound.kwargs) if admin else on_guest()

    wrapper.__signature__ = with_request
    wrapper.__annotations__ = {**fn.__annotations__, "request": _REQUEST.annotation}
    return wrapper


def require(value: Any, message: str) -> Any:
    """The value, or a `gr.Error` telling the user what to fill in."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise gr.Error(message)
    return value.strip() if isinstance(value, str) else value


def for_json(value: Any) -> Any:
    """Data for a `gr.JSON` with "path" keys renamed "file": Gradio takes any dict with a "path" for a file to
    copy into its cache (and gradio_client downloads it), which a model's metadata must not trigger."""
    if isinstance(value, dict):
        return {("file" if key == "path" else key): for_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [for_json(item) for item in value]
    return value


# --- following a job ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskView:
    """What a page shows of a task while it runs and after it ends."""

    task_id: str
    kind: str = ""
    status: str = "queued"
    stage: str = ""
    done: int = 0
    total: int = 0
    message: str = ""
    eta_s: float | None = None
    log: tuple[str, ...] = ()
    metric: dict | None = None
    result: dict | None = None
    error: str | None = None
    events: int = field(default=0, compare=False)

    @property
    def running(self) -> bool:
        return self.status in RUNNING_STATUSES

    @property
    def fraction(self) -> float | None:
        return min(self.done / self.total, 1.0) if self.total else None

    @property
    def log_text(self) -> str:
        return "\n".join(self.log)

    def markdown(self) -> str:
        return status_markdown(self)


def task_view(task: dict, log: tuple[str, ...] = ()) -> TaskView:
    """A task dict of the service as a view (no log unless given)."""
    progress = task.get("progress") or {}
    return TaskView(
        task_id=task["id"], kind=task.get("kind", ""), status=str(task.get("status", "")),
        stage=progress.get("stage", ""), done=int(progress.get("done") or 0), total=int(progress.get("total") or 0),
        message=progress.get("message", ""), log=log, result=task.get("result"), error=task.get("error"),
    )


def event_fields(event: dict) -> tuple[str, dict]:
    """(type, payload) of an event from `service.follow_task`, given flat or as {"seq", "type", "data"}."""
    kind = str(event.get("type", ""))
    data = event.get("data")
    if isinstance(data, dict) and set(event) <= {"seq", "type", "data", "task_id", "created"}:
        return kind, data
    return kind, event


def log_line(kind: str, data: dict) -> str | None:
    """The text a log box shows for one event, None for events shown elsewhere (progress bars, plots)."""
    if kind == "log":
        level = data.get("level", "info")
        return f"[{level}] {data.get('message', '')}" if level not in ("info", "stderr") else str(data.get("message"))
    if kind == "error":
        return f"[error] {data.get('message', '')}" + (f"\n{data['detail']}" if data.get("detail") else "")
    if kind == "artifact":
        return f"[{data.get('kind', 'file')}] {data.get('path', '')}"
    if kind == "progress" and data.get("message"):
        return f"{data.get('stage', '')}: {data['message']}"
    if kind == "status":
        return f"— {data.get('status')}" + (f": {data['error']}" if data.get("error") else "")
    return None


class _Eta:
    """Remaining time of a stage from its rate so far (restarts when the stage changes)."""

    def __init__(self) -> None:
        self.stage, self.start, self.start_done = None, 0.0, 0

    def update(self, stage: str, done: int, total: int) -> float | None:
        now = time.monotonic()
        if stage != self.stage or done < self.start_done:
            self.stage, self.start, self.start_done = stage, now, done
            return None
        progressed, elapsed = done - self.start_done, now - self.start
        if progressed <= 0 or total <= done or elapsed <= 0:
            return None
        return elapsed / progressed * (total - done)


def follow(task_id: str, from_seq: int = 0, owner: service.Owner | None = None) -> Iterator[TaskView]:
    """Views of a task as its events arrive (replayed first), ending with its final state from the store; a task
    ``owner`` may not see is "not found".

    Between two changes of status or stage, views are yielded at most every `UPDATE_EVERY_S` seconds, so a
    chatty job does not flood the page; the last one always comes.
    """
    view = task_view(service.get_task(task_id, owner=owner))
    yield view
    log: list[str] = []
    eta = _Eta()
    last_yield = time.monotonic()
    for number, event in enumerate(service.follow_task(task_id, from_seq=from_seq), start=1):
        kind, data = event_fields(event)
        changes: dict[str, Any] = {"events": number}
        if (line := log_line(kind, data)) is not None:
            log.append(line)
            del log[:-LOG_LINES]
            changes["log"] = tuple(log)
        if kind == "progress":
            done, total, stage = int(data.get("done") or 0), int(data.get("total") or 0), str(data.get("stage", ""))
            changes.update(stage=stage, done=done, total=total, message=str(data.get("message", "")),
                           eta_s=eta.update(stage, done, total), status="running")
        elif kind == "metric":
            changes["metric"] = data
        elif kind == "status" and data.get("status"):
            changes["status"] = str(data["status"])
        previous, view = view, replace(view, **changes)
        now = time.monotonic()
        if view.status != previous.status or view.stage != previous.stage or now - last_yield >= UPDATE_EVERY_S:
            last_yield = now
            yield view
    final = task_view(service.get_task(task_id), tuple(log))
    yield replace(final, eta_s=None, metric=view.metric, events=view.events)


def follow_with_progress(task_id: str, progress: gr.Progress | None) -> Iterator[TaskView]:
    """`follow`, also moving a `gr.Progress` bar (the page's one progress bar over the action)."""
    for view in follow(task_id):
        if progress is not None and view.running:
            desc = f"{view.stage or view.status} {view.done}/{view.total}" if view.total else view.stage or view.status
            progress(view.fraction, desc=desc)
        yield view


# --- formatting -----------------------------------------------------------------------------------------------

STATUS_ICONS = {"queued": "⏳", "running": "▶️", "paused": "⏸️", "completed": "✅", "failed": "❌",
                "cancelled": "⏹️", "interrupted": "⚠️"}


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def size(num_bytes: int | None) -> str:
    if num_bytes is None:
        return "—"
    value = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def status_markdown(view: TaskView) -> str:
    """One line: status, stage, done/total with percent, ETA, the last message, and the error if it failed."""
    parts = [f"{STATUS_ICONS.get(view.status, '')} **{view.status}**".strip()]
    if view.kind:
        parts.append(f"`{view.kind}`")
    if view.stage:
        parts.append(view.stage)
    if view.total:
        parts.append(f"{view.done}/{view.total} ({100 * view.done / view.total:.0f}%)")
    if view.running and view.eta_s is not None:
        parts.append(f"ETA {duration(view.eta_s)}")
    text = " · ".join(parts)
    if view.message and view.running:
        text += f"\n\n{view.message}"
    if view.error:
        text += f"\n\n**Error:** {view.error}"
    return text


# --- uploads --------------------------------------------------------------------------------------------------

def upload_limit_bytes() -> int:
    return int(service.get_settings()["upload_limit_mb"]) * 1024 * 1024


def save_uploads(paths: list[str], folder: str | None = None, owner: service.Owner | None = None) -> list[str]:
    """Files the browser uploaded (in Gradio's cache), saved by the service into ``owner``'s uploads
    (`service.owner_uploads`, then ``folder``), where jobs may read them; the size limit of the settings applies
    to each."""
    if not paths:
        return []
    limit = upload_limit_bytes()
    saved = []
    for path in paths:
        with open(path, "rb") as stream:
            saved.append(service.save_upload(Path(path).name, stream, limit, folder, owner)["path"])
    return saved
