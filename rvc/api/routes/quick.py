"""One-click trainings: every step in one task, from a dataset to a model and its index."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import FileResponse

from rvc import service
from rvc.api.auth import ADMIN_ONLY, CallerOwner
from rvc.api.common import PageQuery, file_answer, link
from rvc.api.schemas import ERRORS, OutputOut, Page, QuickRequest, QuickTaskCreate, TaskOut

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


# The v2 API's quick mode as designed: POST /tasks with exp_name, audio_file_id and options; any task's outputs and
# downloads by file_type. Getting and cancelling a task are the routes of any task (`rvc.api.routes.tasks`).
design = APIRouter(tags=["one-click"], responses=ERRORS)


@design.post("/tasks", status_code=status.HTTP_201_CREATED, response_model=TaskOut, dependencies=ADMIN_ONLY)
def create(body: QuickTaskCreate) -> dict:
    """Train a voice on one uploaded recording (every step in one task), then convert a piece of it with the new
    voice unless ``options.inference`` is false."""
    options = body.options.model_dump()
    inference, config = options.pop("inference"), options.pop("config")
    options["test_conversion"] = options["test_conversion"] and inference is not False
    params = service.OneClickParams(**options)
    conversion = service.ConvertParams(**inference) if isinstance(inference, dict) else None
    audio = service.uploaded_file(body.audio_file_id)
    return service.start_oneclick(body.exp_name, str(audio), params, config=config, inference=conversion)


@design.get("/tasks/{task_id}/outputs", response_model=list[OutputOut])
def task_outputs(task_id: str, request: Request, owner: CallerOwner) -> list[dict]:
    """The files the task wrote (the test conversion, the reference audio it converted, the model and index),
    each with the URL that downloads it by its file_type."""
    kinds = {kind: file_type for file_type, kinds in service.FILE_TYPES.items() for kind in kinds}
    return [output | {"url": link(request, "tasks", task_id, "outputs", kinds.get(output["kind"], output["kind"]))}
            for output in service.task_outputs(task_id, owner=owner)]


@design.get("/tasks/{task_id}/outputs/{file_type}", response_class=FileResponse)
def download_by_type(task_id: str, file_type: str, owner: CallerOwner) -> FileResponse:
    """The task's newest file of file_type: output, ref_audio, model, index or checkpoint."""
    return file_answer(service.task_output_of_type(task_id, file_type, owner))
