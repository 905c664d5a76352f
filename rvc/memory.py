"""Giving freed memory back to the system between big steps.

glibc keeps the memory of freed objects in its heap for reuse, so after a model load (file bytes, fp16 copies
converted to fp32) or a conversion (activations of hundreds of MB) a process can hold far more than it uses. A
long-lived worker then shows its worst moment forever, and the next step starts from that height.
`release_free_memory` asks glibc to return what is free (`malloc_trim`); elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl)
        return None


def release_free_memory() -> None:
    """Return freed heap memory to the system where the C library can (glibc); cheap, safe to call often."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
