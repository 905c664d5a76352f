"""Pause requests for a running training: SIGTERM/SIGINT, or a `pause.request` file in the experiment folder.

The job runner pauses a training by signalling its process (or, where signals are awkward, by creating the
file); the trainer checks after every step, saves a checkpoint at that step and exits cleanly, and starting
it again continues from there. Under DDP the parent process forwards a signal through a shared event, and
the ranks agree on the step to stop at (`rvc.train.distributed.any_rank`).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PAUSE_REQUEST_NAME = "pause.request"
PAUSE_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class PauseWatch:
    """Whether a pause was asked for, by a signal to this process, a shared event, or the request file."""

    def __init__(self, exp_dir: Path, shared_event: Any | None = None) -> None:
        self.request_file = exp_dir / PAUSE_REQUEST_NAME
        self.shared_event = shared_event
        self.signalled = False

    def requested(self) -> bool:
        if self.signalled or (self.shared_event is not None and self.shared_event.is_set()):
            return True
        return self.request_file.exists()

    def clear(self) -> None:
        """Forget a honoured request file, so the next start does not pause at once."""
        self.request_file.unlink(missing_ok=True)

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.signalled and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops without waiting for the checkpoint
        self.signalled = True
        if self.shared_event is not None:
            self.shared_event.set()

    @contextmanager
    def signals(self) -> Iterator[None]:
        """Turn SIGTERM/SIGINT into pause requests while inside; a no-op outside the main thread."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._on_signal) for sig in PAUSE_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
