"""Classes named like fairseq's and omegaconf's, to write checkpoints that need them as real ones do.

Pickle stores a class by module and name; saving one of these inside :func:`importable_as_foreign`
makes the file reference e.g. ``fairseq.data.dictionary.Dictionary`` exactly like a real
``hubert_base.pt``, while neither package is installed (or imported when loading).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


class Dictionary:
    """Shaped like fairseq's label dictionary in ``task_state["dictionaries"]``."""

    def __init__(self, symbols: list[str]) -> None:
        self.symbols = symbols
        self.indices = {symbol: i for i, symbol in enumerate(symbols)}


class ContainerMetadata:
    def __init__(self, **fields: object) -> None:
        self.__dict__.update(fields)


class DictConfig:
    def __init__(self, content: dict, metadata: ContainerMetadata) -> None:
        self._content = content
        self._metadata = metadata


Dictionary.__module__ = "fairseq.data.dictionary"
ContainerMetadata.__module__ = "omegaconf.base"
DictConfig.__module__ = "omegaconf.dictconfig"


@contextmanager
def importable_as_foreign(*classes: type) -> Iterator[None]:
    """Register each class under its ``__module__`` (creating the package chain) for the block only."""
    with pytest.MonkeyPatch.context() as patch:
        for cls in classes:
            parts = cls.__module__.split(".")
            for depth in range(1, len(parts) + 1):
                name = ".".join(parts[:depth])
                if name not in sys.modules:
                    patch.setitem(sys.modules, name, types.ModuleType(name))
            setattr(sys.modules[cls.__module__], cls.__name__, cls)
        yield
