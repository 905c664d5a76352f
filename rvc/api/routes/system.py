"""The machine, uploads, and browsing the folders a client may name."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, status

from rvc import service
from rvc.api.auth import ADMIN_ONLY
from rvc.api.common import PageQuery
from rvc.api.schemas import ERRORS, BrowseOut, SystemInfoOut, UploadOut
from rvc.api.uploads import FIELD, receive_upload

router = APIRouter(prefix="/system", tags=["system"], responses=ERRORS)

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": [FIELD], "properties": {FIELD: {"type": "string", "format": "binary"}},
        }}},
    }
}


@router.get("/info", response_model=SystemInfoOut)
def info() -> dict:
    """GPUs (name, memory, utilisation, temperature), CPU count and load, memory, and the data folder's disk."""
    return service.get_system_info()


@router.post("/upload", status_code=status.HTTP_201_CREATED, response_model=UploadOut, openapi_extra=UPLOAD_BODY)
async def upload(request: Request, folder: str | None = Query(None, description="a sub-folder of uploads/")) -> dict:
    """Store a file (multipart field `file`) under uploads/: audio/video, or a `.pth` model or `.index` by its
    name; 413 above the size limit (settings), 415 when the content is not what the name claims.
    """
    return await receive_upload(request, folder)


@router.get("/files/browse", response_model=BrowseOut, dependencies=ADMIN_ONLY)
def browse(page: PageQuery, path: str | None = None) -> dict:
    """A folder's entries, inside the allowed roots only (without a path: the roots)."""
    return service.browse(path, page.limit, page.offset)
