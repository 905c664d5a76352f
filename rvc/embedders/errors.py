"""The one error type of the embedder package."""

from __future__ import annotations


class EmbedderError(ValueError):
    """An embedder file or folder that cannot be used; the message names the path and the reason.

    Users download embedders from many places, so a bad file must give a sentence they can act on,
    not a pickle or size-mismatch traceback.
    """
