"""The errors every service function may raise, one class per answer a front end gives.

Front ends map them once (the REST API to HTTP statuses, the tabs to `gr.Error`), so the classes say what went
wrong for the caller, not where: a missing task and a missing training are both `NotFound`.

| exception | meaning | REST |
| --- | --- | --- |
| `NotFound` | unknown task/training/model id | 404 |
| `Conflict` | a name exists; a step asked for before its prerequisite; a step already running | 409 |
| `AlreadyFinished` | cancelling a task that has ended (nothing to cancel) | 400 |
| `rvc.security.PathNotAllowedError` | a client path outside the allowed roots | 403 |
| `NotAllowed` | anything else the server refuses to reach (a URL to a private address) | 403 |
| `TooLarge` | an upload or download above the size limit | 413 |
| `UnsupportedMedia` | an upload whose content is not what its name claims (audio/video, .pth, .index) | 415 |
| `FileNotFoundError` | a named input file that does not exist | 422 |
| `ValueError` (incl. `rvc.infer.ParameterError`) | a bad parameter, named with what is allowed | 422 |
| `NotImplementedError` | a feature this installation lacks (a CLI command not present yet) | 501 |
"""

from __future__ import annotations

from rvc.security import PathNotAllowedError


class NotFound(LookupError):
    """No task, training or model with that id."""


class Conflict(ValueError):
    """The request contradicts the current state: a name exists, a prerequisite step is missing, a step runs."""


class AlreadyFinished(ValueError):
    """An action on a task that only a queued or running task takes: cancelling a finished one."""


class NotAllowed(PermissionError):
    """Something this server refuses to reach for a client, like a URL that resolves to a private address."""


class TooLarge(ValueError):
    """More bytes than the limit allows (uploads, imports)."""


class UnsupportedMedia(ValueError):
    """Content that is not one of the accepted types (judged by its bytes, not its name)."""


__all__ = ["Conflict", "NotAllowed", "NotFound", "PathNotAllowedError", "TooLarge", "UnsupportedMedia"]
