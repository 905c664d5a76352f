"""Read fairseq-era checkpoints with ``torch.load(weights_only=True)`` and inert stand-ins.

A fairseq ``hubert_base.pt`` pickles more than tensors: ``args`` (an ``argparse.Namespace``), sometimes
``cfg`` (an omegaconf ``DictConfig``), and ``task_state`` holding ``fairseq.data.dictionary.Dictionary``
objects. We need none of them, only the ``model`` state dict. Instead of importing the real classes
(fairseq is not a dependency, and running a class's code is what weights-only loading exists to
prevent), each admitted global name is bound to a stand-in that accepts any arguments and state and
keeps nothing. A zip checkpoint's globals are listed before loading, and a name outside the allow-list is
refused with the list of offending names; in an old non-zip file the weights-only unpickler refuses the
first such name it meets. Either way a crafted ``__reduce__`` payload never runs.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from rvc.embedders.errors import EmbedderError
from rvc.safe_load import UNREADABLE, WeightsFileError, check_file, first_sentence, load_weights, refusal


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


STAND_INS: tuple[tuple[object, str], ...] = tuple((_stand_in(name), name) for name in sorted(ALLOWED_GLOBALS))


def read_checkpoint(path: Path) -> Any:
    """Load a torch checkpoint on CPU, admitting only :data:`ALLOWED_GLOBALS` (as inert stand-ins).

    Raises :class:`EmbedderError` naming ``path`` for anything that is not such a checkpoint:
    a truncated or foreign file, or one whose pickle needs other code.
    """
    try:
        check_file(path)  # before torch lists the globals: that inflates the pickle
    except WeightsFileError as exc:
        raise EmbedderError(f"{path}: {exc}") from exc
    refused = sorted(_pickled_globals(path) - ALLOWED_GLOBALS)
    if refused:
        raise EmbedderError(
            f"{path}: refused to load, its pickle needs code outside the allow-list: {', '.join(refused)}"
        )
    try:
        return load_weights(path, STAND_INS)
    except WeightsFileError as exc:
        raise EmbedderError(f"{path}: {exc}") from exc


def _pickled_globals(path: Path) -> set[str]:
    """Every global a zip checkpoint's pickle names, listed without unpickling it, so a refusal names them all.

    Other files (an old non-zip ``torch.save``, foreign bytes) list none here: the weights-only unpickler
    refuses the first global outside the allow-list as it meets it.
    """
    try:
        return set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except ValueError:  # torch's answer for anything but a zip checkpoint
        return set()
    except pickle.UnpicklingError as exc:  # a zip whose data.pkl is not a pickle that torch could have written
        raise EmbedderError(f"{path}: {refusal(str(exc))}") from exc
    except (RuntimeError, OSError) as exc:
        raise EmbedderError(f"{path}: {UNREADABLE}: {first_sentence(str(exc))}") from exc
