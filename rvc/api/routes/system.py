"""The machine, uploads, and browsing the folders a client may name."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, status

from rvc import service
from rvc.api.auth import ADMIN_ONLY, CallerOwner
from rvc.api.common import PageQuery
from rvc.api.schemas import (
    ERRORS,
    AssetDownload,
    AssetOut,
    BrowseOut,
    SettingsOut,
    SettingsUpdate,
    SystemInfoOut,
    SystemStatusOut,
    TaskOut,
    UploadOut,
)
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
async def upload(request: Request, owner: CallerOwner,
                 folder: str | None = Query(None, description="a sub-folder of uploads/")) -> dict:
    """Store a file (multipart field `file`) under uploads/ (a guest's under its own folder, the only files it
    may convert): audio/video, or a `.pth` model or `.index` by its name; 413 above the size limit (settings), 415
    when the content is not what the name claims.
    """
    return await receive_upload(request, folder, owner)


@router.get("/files/browse", response_model=BrowseOut, dependencies=ADMIN_ONLY)
def browse(page: PageQuery, path: str | None = None) -> dict:
    """A folder's entries, inside the allowed roots only (without a path: the roots)."""
    return service.browse(path, page.limit, page.offset)


@router.get("/status", response_model=SystemStatusOut)
def system_status() -> dict:
    """The machine's load now (for a dashboard that polls): CPU, memory and disk in percent, GPUs."""
    return service.get_system_status()


@router.get("/settings", response_model=SettingsOut, dependencies=ADMIN_ONLY)
def get_settings() -> dict:
    return service.get_settings()


@router.put("/settings", response_model=SettingsOut, dependencies=ADMIN_ONLY)
def put_settings(body: SettingsUpdate) -> dict:
    """Change the settings given; the others stay. A value out of range is a 422 naming what is allowed."""
    return service.update_settings(**body.model_dump(exclude_none=True))


@router.get("/assets", response_model=list[AssetOut], dependencies=ADMIN_ONLY)
def assets() -> list[dict]:
    """The pretrained files (HuBERT, RMVPE, base models): present or not, and whether the size is right."""
    return service.get_asset_status()


@router.post("/assets/download", status_code=status.HTTP_201_CREATED, response_model=TaskOut,
             dependencies=ADMIN_ONLY)
def download_assets(body: AssetDownload) -> dict:
    """Download pretrained files as a task (progress, resume and sha256 checks): follow it like any task."""
    return service.start_download(body.names)
