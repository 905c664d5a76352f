"""The REST API as its own FastAPI application, mounted by webui.py at `/api/v2` on the Gradio server, so its
OpenAPI schema and docs live at `/api/v2/openapi.json` and `/api/v2/docs`.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from rvc.api import errors
from rvc.api.auth import caller_role, token_roles
from rvc.api.routes import inference, models, quick, system, tasks, trainings

PREFIX = "/api/v2"
DESCRIPTION = """Retrieval-based Voice Conversion: conversions, models, trainings and the machine, as JSON.

Errors are an HTTP status with `{"detail": "..."}`. Lists take `limit`/`offset` and return `total`. Long actions
are tasks: follow one at `GET /tasks/{id}/progress` (Server-Sent Events) or its log at `WS /ws/tasks/{id}/log`.
When the server requires a token, send `Authorization: Bearer <token>`; only the event stream and the WebSockets,
which a browser opens without headers, take `?token=` instead (elsewhere a token in the URL is refused, 401).
The guest token converts, follows tasks and lists models; the rest answers it 403.
"""


def create_api(token: str | None = None, guest_token: str | None = None) -> FastAPI:
    """The API application; with ``token``, every endpoint requires it or ``guest_token`` (a guest's, which the
    admin-only endpoints refuse; see `rvc.api.auth`)."""
    api = FastAPI(
        title="RVC WebUI API", version="2", description=DESCRIPTION, docs_url="/docs", redoc_url=None,
        dependencies=[Depends(caller_role)],
    )
    api.state.tokens = token_roles(token, guest_token)
    errors.install(api)
    for module in (inference, models, trainings, quick, tasks, system):
        api.include_router(module.router)
    api.include_router(quick.design)
    return api
