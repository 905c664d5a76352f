"""Read fairseq-era checkpoints with ``torch.load(weights_only=True)`` and inert stand-ins.

A fairseq ``hubert_base.pt`` pickles more than tensors: ``args`` (an ``argparse.Namespace``), sometimes
``cfg`` (an omegaconf ``DictConfig``), and ``task_state`` holding ``fairseq.data.dictionary.Dictionary``
objects. We need none of them, only the ``model`` state dict. Instead of importing the real classes
(fairseq is not a dependency, and running a class's code is what weights-only loading exists to
prevent), each admitted global name is bound to a stand-in that accepts any arguments and state and
keeps nothing. The file's globals are listed before loading, and a name outside the allow-list is
refused with the list of offending names, so a crafted ``__reduce__`` payload never runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rvc.embedders.errors import EmbedderError


class InertStandIn:
    """Takes the place of an admitted class or callable; constructing or building one does nothing."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass


def _empty_dict(*args: object) -> dict:
    """Stand-in for ``collections.defaultdict``: the unpickler may fill the result with SETITEMS."""
    return {}


# Globals seen in fairseq / omegaconf checkpoints. Everything else is refused.
ALLOWED_GLOBALS: frozenset[str] = frozenset(
    {
        "argparse.Namespace",
        "fairseq.data.dictionary.Dictionary",
        "omegaconf.dictconfig.DictConfig",
        "omegaconf.listconfig.ListConfig",
        "omegaconf.base.Metadata",
        "omegaconf.base.ContainerMetadata",
        "omegaconf.nodes.AnyNode",
        "omegaconf.nodes.StringNode",
        "omegaconf.nodes.IntegerNode",
        "omegaconf.nodes.FloatNode",
        "omegaconf.nodes.BooleanNode",
        "typing.Any",
        "collections.defaultdict",
        "builtins.dict",
        "builtins.list",
        "builtins.int",
        "builtins.float",
        "builtins.str",
        "builtins.bool",
        "numpy.dtype",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray.scalar",
    }
)


def _stand_in(name: str) -> object:
    return _empty_dict if name == "collections.defaultdict" else InertStandIn


def read_checkpoint(path: Path) -> Any:
    """Load a torch zip checkpoint on CPU, admitting only :data:`ALLOWED_GLOBALS` (as inert stand-ins).

    Raises :class:`EmbedderError` naming ``path`` for anything that is not such a checkpoint:
    a truncated or foreign file, or one whose pickle needs other code.
    """
    try:
        needed = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except (ValueError, RuntimeError, OSError) as exc:
        raise EmbedderError(
            f"{path}: not a readable PyTorch checkpoint (truncated or another format): {exc}"
        ) from exc
    refused = sorted(needed - ALLOWED_GLOBALS)
    if refused:
        raise EmbedderError(
            f"{path}: refused to load, its pickle needs code outside the allow-list: {', '.join(refused)}"
        )
    stand_ins = [(_stand_in(name), name) for name in sorted(needed)]
    try:
        with torch.serialization.safe_globals(stand_ins):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types (UnpicklingError, RuntimeError, EOFError, ...)
        raise EmbedderError(f"{path}: could not be read as a weights-only checkpoint: {exc}") from exc
