"""Errors of the retrieval package; each message names the index file."""

from __future__ import annotations


class IndexFileError(ValueError):
    """A missing, unreadable or empty ``.index`` file."""


class IndexMismatchError(ValueError):
    """Features and index of different widths (a v1 model, 256-d, with a v2 index, 768-d, or the reverse)."""
