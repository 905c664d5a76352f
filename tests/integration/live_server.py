"""A real `webui.py` for tests that send it many requests: started with `start_webui`, its output read as it comes
(an unread pipe fills after some 64 KB of logged errors and then blocks the server), stopped at the end.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.integration.conftest import start_webui, stop

TOKEN = "hostile-test-token-0123456789"


@contextmanager
def live_webui(env: dict[str, str], *args: str) -> Iterator[str]:
    """The URL (ending in /) of a server that requires the admin ``TOKEN`` on its REST API, while it runs."""
    process, url = start_webui(env, "--api-token", TOKEN, *args)
    reader = threading.Thread(target=collections.deque, args=(process.stdout, 0), daemon=True)  # read, dropped
    reader.start()
    try:
        yield url
    finally:
        stop(process)
        reader.join(timeout=10)
