"""Giving freed memory back to the system between big steps.

glibc keeps the memory of freed objects in its heap for reuse, so after a model load (file bytes, fp16 copies
converted to fp32) or a conversion (activations of hundreds of MB) a process can hold far more than it uses. A
long-lived worker then shows its worst moment forever, and the next step starts from that height.
`release_free_memory` asks glibc to return what is free (`malloc_trim`); elsewhere it does nothing.

oneDNN (torch's CPU convolutions) also keeps the kernels it builds for every input shape, up to 1024 of them.
A long conversion meets new shapes in every segment, so `limit_kernel_cache` lowers that for processes that
convert audio.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from pathlib import Path

INFERENCE_KERNEL_CACHE = 128
"""oneDNN primitives kept by a converting process. Measured with the full-size v2 40k model on 2 CPU cores: with
the default 1024, what stays in use after each segment grew ~35 MB a segment (120 s input: 1.69 -> 1.97 GB over 8
segments) and the segments peaked at 2.4-2.6 GB; with 128 it stays at 1.77 GB and they peak at 2.1-2.3 GB, at the
same speed (one segment's kernels, the decoder's ~80 among them, still fit). 64 was 15% slower. Training keeps the
default: its steps use more kernels than 128 (7.4 against 6.9 s/step at batch 4)."""


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


def limit_kernel_cache(capacity: int = INFERENCE_KERNEL_CACHE) -> None:
    """Cap oneDNN's kernel cache for this process (see INFERENCE_KERNEL_CACHE), unless the environment already sets
    ``ONEDNN_PRIMITIVE_CACHE_CAPACITY``. oneDNN reads it once, when the process builds its first kernel: call this
    before any convolution runs. Processes started afterwards from ``os.environ`` inherit it (the job runner copies
    the environment when it starts, before any conversion)."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(capacity))


def limit_data_memory(extra_mb: int) -> bool:
    """Let this process take at most ``extra_mb`` MB more of heap and anonymous mappings than it holds now, so an
    allocation past that fails (MemoryError, or torch's "can't allocate memory") instead of swapping the machine.

    RLIMIT_DATA rather than RLIMIT_AS: torch and its libraries reserve gigabytes of address space that they never
    use, while the data limit counts what allocations take (Linux 4.7 and later). Measured on the synthesizer: what
    a process holds once `rvc.synth` is imported is ~780 MB of data segment for ~540 MB resident. Returns False
    where the current size cannot be read (no /proc: macOS, Windows), leaving the process unlimited.
    """
    import resource  # POSIX only: imported here, so the module still imports on Windows

    try:
        data_pages = int(Path("/proc/self/statm").read_text().split()[5])
    except (OSError, IndexError, ValueError):
        return False
    limit = data_pages * os.sysconf("SC_PAGE_SIZE") + extra_mb * 2**20
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    return True
