"""Any task by id, its progress as Server-Sent Events, and live log lines over WebSockets.

A guest lists, reads, follows and cancels only the tasks it submitted; another's task is a 404 (`caller_owner`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Header, Query, WebSocket, WebSocketException, status
from fastapi.responses import StreamingResponse

from rvc import service
from rvc.api.auth import ADMIN_ONLY, GUEST_REFUSED, CallerOwner, CallerRole, Role, accepts_query_token
from rvc.api.common import MAX_INT64, PageQuery
from rvc.api.schemas import ERRORS, EventOut, Page, TaskOut
from rvc.api.sse import progress_stream

router = APIRouter(tags=["tasks"], responses=ERRORS)
NOT_FOUND_CLOSE = 4404  # WebSocket close code of an unknown id (4000-4999 are the application's)


@router.get("/tasks", response_model=Page[TaskOut])
def list_tasks(page: PageQuery, owner: CallerOwner, kind: str | None = None, status: str | None = None) -> dict:
    return service.list_tasks(kind, status, page.limit, page.offset, owner=owner)


@router.get("/tasks/{task_id}", response_model=TaskOut)
def get_task(task_id: str, owner: CallerOwner) -> dict:
    return service.get_task(task_id, owner=owner)


@router.post("/tasks/{task_id}/cancel", response_model=TaskOut)
def cancel(task_id: str, owner: CallerOwner) -> dict:
    """Cancel a queued or running task; 400 for one that has ended."""
    return service.cancel_task(task_id, owner=owner)


@router.delete("/tasks/{task_id}", status_code=204, dependencies=ADMIN_ONLY)
def delete(task_id: str, with_outputs: bool = Query(True, description="also remove the files it wrote")) -> None:
    """Forget a finished task of any kind (409 while it runs)."""
    service.delete_task(task_id, with_outputs)


@router.get("/tasks/{task_id}/log", response_model=list[EventOut])
def log(task_id: str, owner: CallerOwner,
        from_seq: int = Query(0, ge=0, le=MAX_INT64, description="the first event to send")) -> list[dict]:
    """The task's stored events as JSON (log lines, progress, metrics, artifacts, the result), oldest first."""
    return service.task_events(task_id, from_seq, owner=owner)


EVENT_STREAM = {200: {"content": {"text/event-stream": {}}, "description": "the task's events (see rvc.api.sse)"}}


@router.get("/tasks/{task_id}/progress", response_class=StreamingResponse, responses=EVENT_STREAM)
@accepts_query_token
async def progress(
    task_id: str,
    owner: CallerOwner,
    from_seq: int = Query(0, ge=0, le=MAX_INT64, description="the first event to send (0: the whole history)"),
    last_event_id: str | None = Header(None, description="sent by a reconnecting EventSource"),
) -> StreamingResponse:
    """The task's history, then its live events, ending after the final one (completed, failed, cancelled...)."""
    # an unknown id, or another's task, is a 404 before the stream starts
    await asyncio.to_thread(service.get_task, task_id, owner=owner)
    if last_event_id is not None and last_event_id.isascii() and last_event_id.isdigit():
        from_seq = min(int(last_event_id) + 1, MAX_INT64)
    return StreamingResponse(progress_stream(task_id, from_seq), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def log_message(event: dict[str, Any]) -> dict[str, Any] | None:
    """What the log WebSockets send of an event: log lines, error messages and final statuses."""
    common = {"task_id": event["task_id"], "seq": event["seq"], "created": event["created"]}
    if event["type"] == "log":
        return {"type": "log", **common, "level": event.get("level", "info"), "message": event.get("message", "")}
    if event["type"] == "error":
        return {"type": "log", **common, "level": "error", "message": event.get("message", ""),
                "detail": event.get("detail", "")}
    if service.is_final(event):
        return {"type": "status", **common, "status": event["status"], "error": event.get("error")}
    return None


async def push(websocket: WebSocket, events: AsyncIterator[dict[str, Any]]) -> None:
    """Send the log messages of ``events`` until they end or the client goes away, whichever comes first."""

    async def send() -> None:
        async for event in events:
            if (text := log_message(event)) is not None:
                await websocket.send_json(text)

    async def until_disconnect() -> None:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass

    sender, listener = asyncio.create_task(send()), asyncio.create_task(until_disconnect())
    done, pending = await asyncio.wait({sender, listener}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if sender in done:
        sender.result()
        await websocket.close()


async def _accept_known(websocket: WebSocket, check: Callable[..., object], identifier: str, **options: Any) -> bool:
    """Accept the connection; for an unknown id (``check(identifier, **options)`` says), say so and close with
    `NOT_FOUND_CLOSE`."""
    await websocket.accept()
    try:
        await asyncio.to_thread(check, identifier, **options)
    except service.NotFound as error:
        await websocket.send_json({"type": "error", "detail": str(error)})
        await websocket.close(NOT_FOUND_CLOSE, str(error))
        return False
    return True


@router.websocket("/ws/tasks/{task_id}/log")
@accepts_query_token
async def task_log(
    websocket: WebSocket, task_id: str, owner: CallerOwner, from_seq: int = Query(0, ge=0, le=MAX_INT64)
) -> None:
    """The task's log lines (history first), then a final status message, then the server closes."""
    if await _accept_known(websocket, service.get_task, task_id, owner=owner):
        await push(websocket, service.stream_task(task_id, from_seq))


@router.websocket("/ws/trainings/{training_id}/log")
@accepts_query_token
async def training_log(websocket: WebSocket, training_id: str, role: CallerRole) -> None:
    """The log lines of the training's latest task, then of each task it starts, until the client closes. An admin's
    only, as every training route (a guest's socket is closed with 1008 before it is accepted)."""
    if role is not Role.ADMIN:
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, GUEST_REFUSED)
    if await _accept_known(websocket, service.get_training, training_id):
        await push(websocket, service.stream_training(training_id))
