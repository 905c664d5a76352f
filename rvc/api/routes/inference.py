"""Conversions as tasks: submit, list, inspect, cancel, delete, and download what they wrote.

Each task records who submitted it; a guest sees, cancels and downloads only its own (another's is a 404).
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import FileResponse

from rvc import service
from rvc.api.auth import ADMIN_ONLY, CallerOwner
from rvc.api.common import PageQuery, file_answer, link
from rvc.api.schemas import ERRORS, InferenceRequest, OutputOut, Page, TaskOut

KIND = "inference"
router = APIRouter(prefix="/inference/tasks", tags=["inference"], responses=ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TaskOut)
def submit(body: InferenceRequest, owner: CallerOwner) -> dict:
    """Queue a conversion; the input, model, parameters and index are checked before anything is queued (a guest
    converts its own uploads only: any other file is a 404, as a missing one)."""
    return service.submit_conversion(body.audio_path, body.model_id, body.params.model_dump(), body.index,
                                     body.output_format, owner=owner)


@router.get("", response_model=Page[TaskOut])
def list_tasks(page: PageQuery, owner: CallerOwner, status: str | None = None) -> dict:
    return service.list_tasks(KIND, status, page.limit, page.offset, owner=owner)


@router.get("/{task_id}", response_model=TaskOut)
def get_task(task_id: str, owner: CallerOwner) -> dict:
    return service.get_task(task_id, KIND, owner=owner)


@router.post("/{task_id}/cancel", response_model=TaskOut)
def cancel(task_id: str, owner: CallerOwner) -> dict:
    return service.cancel_task(task_id, KIND, owner=owner)


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=ADMIN_ONLY)
def delete(task_id: str, with_outputs: bool = Query(True, description="also remove the files it wrote")) -> None:
    """Forget a finished task (409 while it runs: cancel it first)."""
    service.delete_task(task_id, with_outputs, KIND)


@router.get("/{task_id}/outputs", response_model=list[OutputOut])
def outputs(task_id: str, request: Request, owner: CallerOwner) -> list[dict]:
    return [output | {"url": link(request, "inference", "tasks", task_id, "outputs", output["name"])}
            for output in service.task_outputs(task_id, KIND, owner=owner)]


@router.get("/{task_id}/outputs/{filename}", response_class=FileResponse)
def download(task_id: str, filename: str, owner: CallerOwner) -> FileResponse:
    return file_answer(service.task_output_file(task_id, filename, KIND, owner=owner))
