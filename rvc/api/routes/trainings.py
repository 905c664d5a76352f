"""Trainings and their steps, in the wizard's order; a step asked for too early is a 409 that names the missing
one, and every step answers with the task that runs it (follow it at /tasks/{id}/progress).
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import FileResponse

from rvc import service
from rvc.api.auth import ADMIN_ONLY
from rvc.api.common import MAX_INT64, PageQuery, file_answer, link
from rvc.api.schemas import (
    ERRORS,
    ExportRequest,
    ExtractRequest,
    IndexRequest,
    MetricOut,
    Page,
    PreprocessRequest,
    SampleOut,
    TaskOut,
    TrainingCreate,
    TrainingDetail,
    TrainingOut,
    TrainingUpdate,
    TrainRequest,
)

# admin only, reading included
router = APIRouter(prefix="/trainings", tags=["trainings"], dependencies=ADMIN_ONLY, responses=ERRORS)
STARTED = {"status_code": status.HTTP_202_ACCEPTED, "response_model": TaskOut}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TrainingOut)
def create(body: TrainingCreate) -> dict:
    """A new training (409 if the name is taken)."""
    return service.create_training(body.name, body.target_sr, body.if_f0, body.version, body.dataset_path,
                                   body.config)


@router.get("", response_model=Page[TrainingOut])
def list_trainings(page: PageQuery) -> dict:
    return service.list_trainings(page.limit, page.offset)


@router.get("/{training_id}", response_model=TrainingDetail)
def get_training(training_id: str) -> dict:
    return service.get_training(training_id)


@router.put("/{training_id}", response_model=TrainingOut)
def update(training_id: str, body: TrainingUpdate) -> dict:
    return service.update_training(training_id, body.config)


@router.delete("/{training_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(training_id: str, with_files: bool = Query(False, description="also remove logs/<name>/")) -> None:
    service.delete_training(training_id, with_files)


@router.post("/{training_id}/preprocess", **STARTED)
def preprocess(training_id: str, body: PreprocessRequest | None = None) -> dict:
    return service.start_preprocess(training_id, service.PreprocessParams.from_model(body or PreprocessRequest()))


@router.get("/{training_id}/preprocess/samples", response_model=list[SampleOut])
def samples(training_id: str, request: Request, k: int = Query(5, ge=1, le=50)) -> list[dict]:
    """Random pieces of the preprocessed data to listen to, each with its download URL."""
    return [sample | {"url": link(request, "trainings", training_id, "preprocess", "samples", sample["name"])}
            for sample in service.preprocess_samples(training_id, k)]


@router.get("/{training_id}/preprocess/samples/{name}", response_class=FileResponse)
def sample_file(training_id: str, name: str) -> FileResponse:
    return file_answer(service.preprocess_sample_file(training_id, name))


@router.get("/{training_id}/preprocess/report")
def report(training_id: str) -> dict | None:
    """The dataset report of the last preprocessing (null before one completed)."""
    return service.preprocess_report(training_id)


@router.post("/{training_id}/extract", **STARTED)
def extract(training_id: str, body: ExtractRequest | None = None) -> dict:
    return service.start_extract(training_id, service.ExtractParams.from_model(body or ExtractRequest()))


@router.post("/{training_id}/train/start", **STARTED)
def train(training_id: str, body: TrainRequest | None = None) -> dict:
    """Train up to epochs (total_epoch; a training that has checkpoints continues from the latest)."""
    return service.start_train(training_id, service.TrainParams.from_model(body or TrainRequest()))


@router.post("/{training_id}/train/pause", response_model=TaskOut)
def pause(training_id: str) -> dict:
    """Ask the running training to save a checkpoint and stop; its task becomes paused shortly after."""
    return service.pause_training(training_id)


@router.post("/{training_id}/train/resume", **STARTED)
def resume(training_id: str) -> dict:
    """Continue a paused or interrupted training, as a new task."""
    return service.resume_training(training_id)


@router.get("/{training_id}/train/metrics", response_model=Page[MetricOut])
def metrics(
    training_id: str, page: PageQuery,
    since_step: int | None = Query(None, ge=-MAX_INT64, le=MAX_INT64, description="only the steps after this one"),
) -> dict:
    return service.paginate(service.training_metrics(training_id, since_step), page.limit, page.offset)


@router.post("/{training_id}/index", **STARTED)
def index(training_id: str, body: IndexRequest | None = None) -> dict:
    return service.start_index(training_id, service.IndexParams.from_model(body or IndexRequest()))


@router.post("/{training_id}/export", **STARTED)
def export(training_id: str, body: ExportRequest | None = None) -> dict:
    return service.start_export(training_id, service.ExportParams.from_model(body or ExportRequest()))
