"""Every event of a task goes to the store and to any number of live listeners, in order.

A listener joins at any time: it gets the stored events from the seq it asks for, then the live ones. Storing a
new event and replaying the history happen under one lock, so between the two there is no gap and no repeat.
After a task's final event (the runner's terminal status) its listeners are told the stream has ended.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
from typing import Any

from rvc.jobs.records import Event
from rvc.jobs.store import JobStore

logger = logging.getLogger("rvc.jobs")


class _Listener:
    """The receiving end of one subscription; ``None`` delivered means the stream has ended."""

    def __init__(self) -> None:
        self._detach = lambda: None

    def _deliver(self, item: Event | None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop receiving (a client went away); the events stay stored."""
        self._detach()


class Subscription(_Listener):
    """For threads (Gradio generators, tests): iterate, or `get` with a timeout."""

    def __init__(self) -> None:
        super().__init__()
        self._queue: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        self._ended = False

    def _deliver(self, item: Event | None) -> None:
        self._queue.put(item)

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None once the stream has ended; TimeoutError if none came within ``timeout``."""
        if self._ended:
            return None
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no event within {timeout} s") from None
        self._ended = item is None
        return item

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> Event:
        item = self.get()
        if item is None:
            raise StopIteration
        return item

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class AsyncSubscription(_Listener):
    """For an event loop (SSE, WebSocket): events cross from the runner's threads with `call_soon_threadsafe`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._ended = False

    def _deliver(self, item: Event | None) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def __aiter__(self) -> AsyncSubscription:
        return self

    async def __anext__(self) -> Event:
        item = None if self._ended else await self._queue.get()
        if item is None:
            self._ended = True
            raise StopAsyncIteration
        return item


class EventHub:
    """Stores events and hands them to the listeners of their task."""

    def __init__(self, store: JobStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._listeners: dict[str, dict[_Listener, int]] = {}  # task_id -> {listener: the seq it starts from}

    def publish(self, task_id: str, type: str, data: dict[str, Any]) -> Event:
        """Store the task's next event and deliver it; after a final event, end the task's listeners."""
        with self._lock:
            event = self._store.append_event(task_id, type, data)
            listeners = self._listeners.pop(task_id, {}) if event.final else self._listeners.get(task_id, {})
            for listener, from_seq in list(listeners.items()):
                if event.seq >= from_seq and not self._send(listener, event):
                    del listeners[listener]
                elif event.final:
                    self._send(listener, None)
        return event

    def attach(self, listener: _Listener, task_id: str, from_seq: int = 0) -> None:
        """Replay the task's stored events from ``from_seq`` to ``listener``, then keep it for the live ones."""
        with self._lock:
            for event in self._store.events(task_id, from_seq):
                self._send(listener, event)
            last = self._store.last_event(task_id)
            if last is not None and last.final:
                self._send(listener, None)
                return
            self._listeners.setdefault(task_id, {})[listener] = from_seq
            listener._detach = functools.partial(self._detach, task_id, listener)

    def _detach(self, task_id: str, listener: _Listener) -> None:
        with self._lock:
            listeners = self._listeners.get(task_id, {})
            listeners.pop(listener, None)
            if not listeners:
                self._listeners.pop(task_id, None)

    @staticmethod
    def _send(listener: _Listener, item: Event | None) -> bool:
        """Deliver without letting one broken listener (say, a closed event loop) stop the others."""
        try:
            listener._deliver(item)
        except Exception:
            logger.warning("dropping a listener that failed to take an event", exc_info=True)
            return False
        return True
