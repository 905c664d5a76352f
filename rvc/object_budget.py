"""A bound on what an unpickled file holds besides its tensors, checked without recursion or stringification.

A pickle's memo lets a tiny file hold a list of two references to one list of two references to ... 25 levels
down: 2**25 paths to one leaf, which unpickles in no time but takes 100 MB as text or JSON; and 100,000 nested
lists cost 200 KB of file but make every recursive consumer (``str``, ``json``, ``copy``) raise RecursionError.
So the loaded object is walked with an explicit stack, every reference counted each time it is met (a shared
structure costs what writing it out would), and the walk stops at the first bound it passes. Real files are far
below them (measured: a 48k `G_*.pth` with its optimizer is 6,200 objects, 6 levels, 30,000 characters).
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_OBJECTS = 100_000
MAX_DEPTH = 32
MAX_TEXT_CHARS = 4 * 2**20
CONTAINERS = (list, tuple, set, frozenset)
TEXTS = (str, bytes, bytearray)


class ObjectBudgetError(ValueError):
    """A structure past one of the bounds; the message is the problem alone."""


def check_object_budget(root: object) -> None:
    """Raise :class:`ObjectBudgetError` when ``root`` holds more than `MAX_OBJECTS` references (shared ones
    counted each time), nests deeper than `MAX_DEPTH`, or holds more than `MAX_TEXT_CHARS` of text.

    Containers are dicts (any Mapping), lists, tuples and sets; anything else (a tensor, a number, a stand-in
    object) is a leaf.
    """
    stack: list[tuple[object, int]] = [(root, 1)]
    met = 1
    text = 0
    while stack:
        item, depth = stack.pop()
        if isinstance(item, TEXTS):
            text += len(item)
            if text > MAX_TEXT_CHARS:
                raise ObjectBudgetError(f"it holds more than {MAX_TEXT_CHARS // 2**20} M characters of text "
                                        "(counting shared texts each time they are referenced)")
            continue
        if isinstance(item, Mapping):
            count = 2 * len(item)
        elif isinstance(item, CONTAINERS):
            count = len(item)
        else:
            continue
        if not count:
            continue
        if depth > MAX_DEPTH:
            raise ObjectBudgetError(f"it nests containers more than {MAX_DEPTH} levels deep "
                                    "(a model file's metadata is a few levels of lists and dicts)")
        met += count  # before the children are listed: a container of millions is refused without copying it
        if met > MAX_OBJECTS:
            raise ObjectBudgetError(f"it holds more than {MAX_OBJECTS} objects (counting shared ones each time they "
                                    "are referenced: a structure that would grow without bound when written out)")
        children = (part for pair in item.items() for part in pair) if isinstance(item, Mapping) else item
        stack.extend((child, depth + 1) for child in children)
