"""The fields of a synthesizer file besides its weights, accepted only in the shapes the ecosystem writes.

What is read here ends up in the model list, the job store and JSON answers, so nothing untrusted is turned into
text unless it is already a short scalar: ``info`` a text (or a number), ``version`` and ``sr`` short texts (``sr``
a number in Applio's files), ``f0`` 0/1, ``config`` the original's positional list (numbers, the resblock name,
lists of numbers, lists of lists of numbers), ``iteration`` a number. Anything else is refused with a sentence
naming the field. An ``info`` longer than `MAX_INFO_CHARS` is cut there and marked, not refused: a long model
card is the author's choice, and the model works the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

MAX_INFO_CHARS = 4096
INFO_CUT_MARK = " […]"
MAX_LABEL_CHARS = 16  # version, sr and the config's resblock name ("1", "v2", "40k")
MAX_CONFIG_ITEMS = 32  # the original's list has 18 entries
MAX_CONFIG_LIST = 16  # a list inside it: kernel sizes, dilations, rates (3-4 entries each)
VERSIONS = ("v1", "v2")
SCALARS = (bool, int, float)


@dataclass(frozen=True)
class SmallModelFields:
    """What a small inference `.pth` says about itself, checked."""

    version: str
    f0: bool
    info: str
    config: list


def small_model_fields(content: Mapping) -> SmallModelFields:
    """The checked fields of a small `.pth` (missing ones take the original's defaults: v1, f0 on, no info).

    Raises ValueError naming the field whose value is not what the ecosystem writes there.
    """
    version = content.get("version", "v1")
    if not isinstance(version, str) or version not in VERSIONS:
        raise ValueError(f"'version' is {_described(version)}, expected 'v1' or 'v2'")
    f0 = content.get("f0", 1)
    if not isinstance(f0, bool | int) or f0 not in (0, 1):
        raise ValueError(f"'f0' is {_described(f0)}, expected 0 or 1")
    rate = content.get("sr")
    if rate is not None and not _is_label(rate) and not isinstance(rate, int):
        raise ValueError(f"'sr' is {_described(rate)}, expected a rate such as '40k' or 40000")
    return SmallModelFields(version, bool(f0), info_text(content.get("info")), _config(content.get("config")))


def info_text(value: object) -> str:
    """A file's ``info`` as text: a text cut at `MAX_INFO_CHARS`, a number written out, nothing as ""."""
    if value is None:
        return ""
    if isinstance(value, SCALARS):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"'info' is {_described(value)}, not a text")
    return value if len(value) <= MAX_INFO_CHARS else value[:MAX_INFO_CHARS] + INFO_CUT_MARK


def iteration_of(content: Mapping) -> int | None:
    """A training checkpoint's step count (None when it has none)."""
    iteration = content.get("iteration")
    if iteration is not None and (not isinstance(iteration, int) or isinstance(iteration, bool)):
        raise ValueError(f"'iteration' is {_described(iteration)}, not a step count")
    return iteration


def tensors_of(value: object, field: str) -> Mapping[str, torch.Tensor]:
    """``value`` if it is a dictionary of named tensors (``weight`` of a small `.pth`, ``model`` of a `G_*.pth`)."""
    if not isinstance(value, Mapping):
        raise ValueError(f"'{field}' is {_described(value)}, not a dictionary of tensors")
    for key, tensor in value.items():
        if not isinstance(key, str) or not isinstance(tensor, torch.Tensor):
            name = repr(key[:80]) if isinstance(key, str) else _described(key)
            raise ValueError(f"'{field}' holds {_described(tensor)} under {name}, not a tensor")
    return value


def _config(value: object) -> list:
    if not isinstance(value, list | tuple) or len(value) > MAX_CONFIG_ITEMS:
        raise ValueError(f"'config' is {_described(value)}, expected the list of up to {MAX_CONFIG_ITEMS} numbers "
                         "and lists of numbers that RVC writes")
    for position, item in enumerate(value):
        if not (isinstance(item, SCALARS) or _is_label(item) or _is_numbers(item)
                or (_is_short_list(item) and all(_is_numbers(inner) for inner in item))):
            raise ValueError(f"'config' entry {position} is {_described(item)}, expected a number, a short text "
                             "or a short list of numbers")
    return list(value)


def _is_label(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_LABEL_CHARS


def _is_short_list(value: object) -> bool:
    return isinstance(value, list | tuple) and len(value) <= MAX_CONFIG_LIST


def _is_numbers(value: object) -> bool:
    return _is_short_list(value) and all(isinstance(item, SCALARS) for item in value)


def _described(value: object) -> str:
    """What ``value`` is, in a few words that never grow with it (its type; its text when short)."""
    if isinstance(value, str):
        return repr(value) if len(value) <= MAX_LABEL_CHARS else f"a text of {len(value)} characters"
    if isinstance(value, SCALARS) or value is None:
        return repr(value)
    if isinstance(value, Mapping | list | tuple):
        return f"a {type(value).__name__} of {len(value)} entries"
    return f"a {type(value).__name__}"
