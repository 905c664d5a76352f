"""What several routers share: the pagination query, links to other endpoints, and file answers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Query, Request
from fastapi.responses import FileResponse

from rvc.api.stored_content import NOSNIFF, download_type

MAX_PAGE = 500
MAX_INT64 = 2**63 - 1  # the largest integer SQLite stores: a larger offset or step cannot even be compared


@dataclass(frozen=True)
class Window:
    """`?limit=&offset=` of a list endpoint."""

    limit: int
    offset: int


def window(
    limit: int = Query(50, ge=1, le=MAX_PAGE, description="items per page"),
    offset: int = Query(0, ge=0, le=MAX_INT64, description="items to skip"),
) -> Window:
    return Window(limit, offset)


PageQuery = Annotated[Window, Depends(window)]


def link(request: Request, *parts: str) -> str:
    """The path of another endpoint of this API, as the client reached it (mount point and proxy prefix
    included), with each part quoted.
    """
    return request.scope.get("root_path", "") + "".join(f"/{quote(part, safe='')}" for part in parts)


def file_answer(path: Path) -> FileResponse:
    """A file download under its own name: always an attachment, typed as itself only when a browser may show it
    (audio, video, raster images; else `application/octet-stream`), never sniffed (`rvc.api.stored_content`)."""
    return FileResponse(path, filename=path.name, media_type=download_type(path.name), headers=NOSNIFF)
