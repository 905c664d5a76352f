"""Models and indexes: the listing joined with their metadata, the model tools, and imports from a URL."""

from __future__ import annotations

from fastapi import APIRouter, status

from rvc import service
from rvc.api.auth import ADMIN_ONLY
from rvc.api.common import PageQuery
from rvc.api.schemas import ERRORS, ImportRequest, IndexOut, MergeRequest, ModelOut, ModelUpdate, Page, PathOut, TaskOut

router = APIRouter(tags=["models"], responses=ERRORS)


@router.get("/models", response_model=Page[ModelOut])
def list_models(page: PageQuery) -> dict:
    """The models of assets/weights with version, rate, pitch, info, size and linked index."""
    return service.paginate(service.list_models_detailed(), page.limit, page.offset)


@router.post("/models/import", status_code=status.HTTP_201_CREATED, response_model=TaskOut, dependencies=ADMIN_ONLY)
def import_model(body: ImportRequest) -> dict:
    """Download a model as a task (follow it at /tasks/{id}/progress); it appears in /models when done."""
    return service.import_model(body.url)


@router.post("/models/merge", status_code=status.HTTP_201_CREATED, response_model=ModelOut, dependencies=ADMIN_ONLY)
def merge(body: MergeRequest) -> dict:
    return service.merge_models(body.model_a, body.model_b, body.alpha, body.name, body.info)


@router.get("/models/{model_id}", response_model=ModelOut)
def get_model(model_id: str) -> dict:
    return service.model_detail(model_id)


@router.patch("/models/{model_id}", response_model=ModelOut, dependencies=ADMIN_ONLY)
def update_model(model_id: str, body: ModelUpdate) -> dict:
    """Change the info text and/or the name (in that order)."""
    detail = service.model_detail(model_id)
    if body.info is not None:
        detail = service.set_model_info(model_id, body.info)
    if body.name is not None and body.name != model_id:
        detail = service.rename_model(model_id, body.name)
    return detail


@router.delete("/models/{model_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=ADMIN_ONLY)
def delete_model(model_id: str) -> None:
    service.delete_model(model_id)


@router.post("/models/{model_id}/onnx", response_model=PathOut, dependencies=ADMIN_ONLY)
def export_onnx(model_id: str) -> dict:
    return service.export_onnx(model_id)


@router.get("/indexes", response_model=Page[IndexOut])
def list_indexes(page: PageQuery) -> dict:
    return service.paginate(service.list_indexes(), page.limit, page.offset)
