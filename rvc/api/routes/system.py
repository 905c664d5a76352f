"""The machine, uploads, and browsing the folders a client may name."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, status

from rvc import service
from rvc.api.common import PageQuery
from rvc.api.schemas import BrowseOut, SystemInfoOut, UploadOut
from rvc.api.uploads import FIELD, receive_upload

router = APIRouter(prefix="/system", tags=["system"])

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
    """Store an audio/video file (multipart field `file`) under uploads/; 413 above the size limit (settings),
    415 when the content is not audio or video, whatever its name.
    """
    return await receive_upload(request, folder)


@router.get("/files/browse", response_model=BrowseOut)
def browse(page: PageQuery, path: str | None = None) -> dict:
    """A folder's entries, inside the allowed roots only (without a path: the roots)."""
    return service.browse(path, page.limit, page.offset)
