"""Modules built as shapes only, to receive a file's weights: the meta device, with initialisation skipped.

Every loader here builds its network this way and then takes the file's tensors as they are
(``load_state_dict(..., assign=True)``): a file that does not fit is refused before any memory goes into it, and no
random initialisation is computed for values the file replaces. On the meta device most of torch's initialisers are
free, but ``normal_`` runs a Python meta kernel whose first use imports sympy and torch's primitives: most of a
second of start-up, for nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch.overrides import TorchFunctionMode

# In-place fills that only write values (no change of shape): on a meta tensor there are no values to write.
_VALUE_FILLS = frozenset({"normal_", "uniform_", "zero_", "fill_"})


class _SkipMetaInitialisation(TorchFunctionMode):
    """Returns a meta tensor unchanged from `torch.nn.init`'s functions and `Tensor`'s value fills."""

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204 (torch's protocol)
        kwargs = kwargs or {}
        target = args[0] if args else kwargs.get("tensor")
        name = getattr(func, "__name__", "")
        is_initialiser = getattr(func, "__module__", None) == "torch.nn.init" or name in _VALUE_FILLS
        if is_initialiser and isinstance(target, torch.Tensor) and target.is_meta:
            return target
        return func(*args, **kwargs)


@contextmanager
def empty_modules() -> Iterator[None]:
    """Modules built inside have parameters and buffers of the right shapes on the meta device, and no values.

    The mode is thread-local, so a model built by another thread at the same time is initialised as usual.
    """
    with torch.device("meta"), _SkipMetaInitialisation():
        yield
