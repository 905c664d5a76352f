"""One-click trainings: every step in one task, from a dataset to a model and its index."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import FileResponse

from rvc import service
from rvc.api.auth import ADMIN_ONLY
from rvc.api.common import PageQuery, file_answer, link
from rvc.api.schemas import ERRORS, OutputOut, Page, QuickRequest, TaskOut

KIND = "oneclick"
router = APIRouter(prefix="/quick/tasks", tags=["one-click"], dependencies=ADMIN_ONLY, responses=ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TaskOut)
def submit(body: QuickRequest) -> dict:
    fields = body.model_dump()
    name, dataset_path = fields.pop("name"), fields.pop("dataset_path")
    return service.start_oneclick(name, dataset_path, service.OneClickParams(**fields))


@router.get("", response_model=Page[TaskOut])
def list_tasks(page: PageQuery, status: str | None = None) -> dict:
    return service.list_tasks(KIND, status, page.limit, page.offset)


@router.get("/{task_id}", response_model=TaskOut)
def get_task(task_id: str) -> dict:
    return service.get_task(task_id, KIND)


@router.delete("/{task_id}", response_model=TaskOut)
def cancel(task_id: str) -> dict:
    """Cancel the run (its files stay, to resume or inspect)."""
    return service.cancel_task(task_id, KIND)


@router.get("/{task_id}/outputs", response_model=list[OutputOut])
def outputs(task_id: str, request: Request) -> list[dict]:
    return [output | {"url": link(request, "quick", "tasks", task_id, "outputs", output["kind"], output["name"])}
            for output in service.task_outputs(task_id, KIND)]


@router.get("/{task_id}/outputs/{file_type}/{filename}", response_class=FileResponse)
def download(task_id: str, file_type: str, filename: str) -> FileResponse:
    return file_answer(service.task_output_file(task_id, filename, KIND, file_type))
