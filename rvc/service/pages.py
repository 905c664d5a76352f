"""The shape of every list the services return: one page of items and how many there are in all."""

from __future__ import annotations

from typing import Any


def check_window(limit: int | None, offset: int) -> None:
    if limit is not None and limit < 1:
        raise ValueError(f"limit={limit} must be at least 1")
    if offset < 0:
        raise ValueError(f"offset={offset} must not be negative")


def page(items: list[Any], total: int, limit: int | None, offset: int) -> dict[str, Any]:
    """``{"items", "total", "limit", "offset"}``; ``limit`` None means all."""
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def paginate(items: list[Any], limit: int | None = None, offset: int = 0) -> dict[str, Any]:
    """`page` of a list held in memory."""
    check_window(limit, offset)
    return page(items[offset: None if limit is None else offset + limit], len(items), limit, offset)
