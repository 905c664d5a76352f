"""Models are loaded once and reused: a cache keyed by file (path, size, mtime) and device.

A batch of conversions, or a long-lived inference worker, asks the cache for the synthesizer, embedder, f0
extractor and index it needs; nothing is read twice unless the file changed on disk.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rvc import embedders
from rvc.devices import default_device, default_dtype
from rvc.f0 import F0Extractor, get_extractor
from rvc.memory import limit_kernel_cache, release_free_memory
from rvc.retrieval import RetrievalIndex, load_index
from rvc.synth import Synthesizer, load_synthesizer

if TYPE_CHECKING:
    from rvc.embedders import Embedder


def _file_key(path: str | os.PathLike) -> tuple[str, int, int]:
    resolved = Path(path).resolve()
    try:
        stat = resolved.stat()
    except FileNotFoundError:
        return str(resolved), -1, -1  # the loader raises its own clear error
    return str(resolved), stat.st_size, stat.st_mtime_ns


class ModelCache:
    """Holds loaded models for one device; thread-safe, keyed by file identity.

    Creating one marks this process as one that converts: oneDNN's kernel cache is capped before its first model
    runs (``rvc.memory.limit_kernel_cache``)."""

    def __init__(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> None:
        limit_kernel_cache()
        self.device = torch.device(device) if device is not None else default_device()
        self.dtype = dtype or default_dtype(self.device)
        self._items: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        self.loads = 0  # how many times a file was actually read (tests and benchmarks check this)

    def _get(self, key: tuple, load: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._items:
                self._items[key] = load()
                self.loads += 1
                release_free_memory()  # the file's bytes and conversion copies are garbage now
            return self._items[key]

    def synthesizer(self, path: str | os.PathLike) -> Synthesizer:
        return self._get(("synth", *_file_key(path)), lambda: load_synthesizer(path, self.device, self.dtype))

    def embedder(self, path: str | os.PathLike) -> Embedder:
        return self._get(("embedder", *_file_key(path)), lambda: embedders.load_embedder(path, self.device, self.dtype))

    def index(self, path: str | os.PathLike) -> RetrievalIndex:
        return self._get(("index", *_file_key(path)), lambda: load_index(path))

    def f0_extractor(
        self, method: str, rmvpe_path: str | os.PathLike | None = None, filter_radius: int = 0
    ) -> F0Extractor:
        model_key = _file_key(rmvpe_path) if method == "rmvpe" and rmvpe_path else None
        half = self.dtype == torch.float16
        return self._get(
            ("f0", method, model_key, filter_radius),
            lambda: get_extractor(
                method, str(self.device), rmvpe_path, filter_radius=filter_radius, half=half
            ),
        )

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
