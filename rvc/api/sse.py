"""Server-Sent Events for a task's progress: its stored history first, then live events, then one final event.

Event names: `progress`; `log` (log lines and the job's error messages, with a level); `metric`; `artifact`;
`status` (queued/running); `heartbeat` (every `HEARTBEAT_S` seconds without events, so proxies keep the
connection); and one final event named after the terminal status, `completed`, `failed`, `cancelled`, `paused`
or `interrupted`, whose data is the task (with its error and result). Every event but the heartbeat has the
event's sequence number as its id, so a client that reconnects with `Last-Event-ID` continues where it stopped.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from rvc import service

HEARTBEAT_S = 15.0
_RENAMED = {"error": "log"}  # a job's error message is a log line of level "error"


def message(name: str, data: Any, event_id: int | None = None) -> str:
    """One event in the text/event-stream format."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, default=str)}\n\n"


def event_message(event: dict[str, Any]) -> str:
    """A task event (as `rvc.service.follow_task` yields it) as an SSE message."""
    if event["type"] == "status":
        return message("status", {"status": event["status"], "seq": event["seq"]}, event["seq"])
    data = {key: value for key, value in event.items() if key not in ("type", "task_id")}
    if event["type"] == "error":
        data["level"] = "error"
    return message(_RENAMED.get(event["type"], event["type"]), data, event["seq"])


async def progress_stream(task_id: str, from_seq: int = 0, heartbeat_s: float = HEARTBEAT_S) -> AsyncIterator[str]:
    """The task's events as SSE messages, ending after the final one (see the module's docstring).

    The events come through a queue fed by a separate asyncio task, so waiting for the next one can time out
    (for a heartbeat) without disturbing the subscription, which the feeding task closes when cancelled.
    """
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    async def feed() -> None:
        try:
            async for event in service.stream_task(task_id, from_seq):
                queue.put_nowait(event)
        finally:
            queue.put_nowait(None)

    feeder = asyncio.create_task(feed())
    try:
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), heartbeat_s)
            except TimeoutError:
                yield message("heartbeat", {})
                continue
            if event is None:
                await feeder  # the stream ended without a final event: raise what ended it, if anything did
                return
            if service.is_final(event):
                task = await asyncio.to_thread(service.get_task, task_id)
                yield message(event["status"], task, event["seq"])
                return
            yield event_message(event)
    finally:
        feeder.cancel()
