"""One mapping from the service's exceptions to HTTP statuses, installed as the API's exception handlers.

Every error answer is `{"detail": "<message>"}`; request validation keeps FastAPI's list of problems under
"errors" but sums them up in "detail" too, so a client can always show "detail". A bug (any other exception) is a
500 in the same shape, naming the exception's type only: its message may hold paths or data of the server.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from rvc import service

logger = logging.getLogger(__name__)

# The most specific class wins (the handlers are looked up along the exception's class hierarchy).
STATUS_OF: dict[type[Exception], int] = {
    service.NotFound: 404,
    service.AlreadyFinished: 400,
    service.Conflict: 409,
    service.TooLarge: 413,
    service.UnsupportedMedia: 415,
    service.PathNotAllowedError: 403,
    service.NotAllowed: 403,
    FileNotFoundError: 422,
    ValueError: 422,
    NotImplementedError: 501,
}


def status_of(error: Exception) -> int:
    return next(STATUS_OF[cls] for cls in type(error).__mro__ if cls in STATUS_OF)


async def service_error(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=status_of(error))


async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    problems = error.errors()
    summary = "; ".join(f"{'.'.join(str(part) for part in p['loc'])}: {p['msg']}" for p in problems)
    return JSONResponse({"detail": summary, "errors": _plain(problems)}, status_code=422)


async def client_gone(request: Request, error: ClientDisconnect) -> Response:
    """A client that hung up while sending its body (a visitor closing the tab mid-upload) is no server error: what
    it sent is dropped by the route (uploads remove their partial file) and no answer can reach it."""
    logger.info("%s %s: the client disconnected before its body was received", request.method, request.url.path)
    return Response(status_code=400)


async def server_error(request: Request, error: Exception) -> JSONResponse:
    logger.error("%s %s failed", request.method, request.url.path, exc_info=error)
    return JSONResponse({"detail": f"internal server error ({type(error).__name__}); the server log has the details"},
                        status_code=500)


def _plain(problems: list[dict]) -> list[dict]:
    """FastAPI's problem list without the parts that are not JSON (the exception objects in "ctx")."""
    return [{key: value for key, value in problem.items() if key in ("type", "loc", "msg")} for problem in problems]


def install(app: FastAPI) -> None:
    for error_class in STATUS_OF:
        app.add_exception_handler(error_class, service_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(Exception, server_error)
