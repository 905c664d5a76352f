"""Request and response bodies of the REST API, as pydantic models (they are also its OpenAPI schema).

The bodies of an action's parameters are derived from its parameter object (`rvc.params`: types, ranges, defaults,
help and the v2 API's aliases such as ``total_epoch`` and ``gpu_id``), and the answers that show a stored record
(a task, a training) from the record itself (`rvc.jobs.records`: names, types, descriptions); the others fix names
and types, and `rvc.service` checks the values. Field names are the RVC ecosystem's where it has one.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, create_model

from rvc.service import (
    ConvertParams,
    ExportParams,
    ExtractParams,
    IndexParams,
    ModelRecord,
    OneClickParams,
    Owner,
    PreprocessParams,
    Progress,
    Task,
    Training,
    TrainParams,
    public_fields,
)

T = TypeVar("T")
ConvertParamsBody = ConvertParams.request_model()


class Body(BaseModel):
    """A request body: unknown fields are an error (a misspelt option must not be ignored silently)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class Out(BaseModel):
    model_config = ConfigDict(protected_namespaces=())


def record_model(record: type, name: str, **nested: type[BaseModel]) -> type[Out]:
    """The response model of a stored record: its public fields with their types and descriptions;
    ``nested`` names the response models of fields that hold other records (``progress=ProgressOut``).
    """
    hints = typing.get_type_hints(record)
    fields: dict[str, Any] = {}
    for field in public_fields(record):
        kind = hints[field.name]
        if field.name in nested:
            kind = nested[field.name] | None if field.default is None else nested[field.name]
        default = ... if field.default is dataclasses.MISSING else field.default
        fields[field.name] = (kind, Field(default, description=field.metadata["help"]))
    return create_model(name, __base__=Out, __doc__=record.__doc__, **fields)


class ErrorOut(Out):
    """Every error answer (see `rvc.api.errors`)."""

    detail: str = Field(description="what went wrong, in a sentence")
    errors: list[dict[str, Any]] | None = Field(None, description="request validation only: each problem's "
                                                                  "type, loc and msg")


# The error answers every router documents (the same `ErrorOut` body for each status of `rvc.api.errors`).
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description} for status, description in (
        (400, "a body that cannot be read (not JSON, or not UTF-8)"),
        (401, "no token, or a wrong one"),
        (403, "refused: a path outside the allowed roots, a private address, or a guest's call"),
        (404, "no such id, model or file"),
        (409, "the current state forbids it: a name is taken, a step is missing or running"),
        (413, "larger than the size limit"),
        (415, "content that is not of the accepted type"),
        (422, "a bad parameter or body, named in detail"),
        (501, "a feature this installation lacks"),
    )
}


class Page(Out, Generic[T]):
    items: list[T]
    total: int = Field(description="how many items match in all")
    limit: int | None
    offset: int


# --- tasks --------------------------------------------------------------------------------------------------


ProgressOut = record_model(Progress, "ProgressOut")
OwnerOut = record_model(Owner, "OwnerOut")
TaskOut = record_model(Task, "TaskOut", progress=ProgressOut, owner=OwnerOut)


class OutputOut(Out):
    name: str
    kind: str = Field(description="what the task announced: audio, ref_audio, model, index, checkpoint...")
    path: str
    size_bytes: int
    created_at: float = Field(description="when the file was written, Unix seconds")
    url: str = Field(description="where to download it")


class InferenceRequest(Body):
    model_id: str = Field(description="a model of assets/weights (the file's stem)")
    audio_path: str = Field(description="a file inside the allowed roots, e.g. the path POST /system/upload gave")
    params: ConvertParamsBody = Field(default_factory=ConvertParamsBody, description="the conversion parameters")
    index: str | None = Field("auto", description='"auto" (the index named after the model), null, or a path')
    output_format: str = "wav"


# --- models -------------------------------------------------------------------------------------------------


ModelOut = record_model(ModelRecord, "ModelOut")


class IndexOut(Out):
    name: str
    path: str
    dim: int | None
    size_bytes: int


class ImportRequest(Body):
    url: str = Field(description="a Hugging Face file or repo, a direct link to a .pth/.index, or a .zip of both")


class ModelUpdate(Body):
    name: str | None = Field(None, description="a new name (the file is renamed)")
    info: str | None = Field(None, description="a new info text")


class MergeRequest(Body):
    model_a: str
    model_b: str
    alpha: float = Field(0.5, ge=0.0, le=1.0, description="the weight of model_a")
    name: str
    info: str = ""


class PathOut(Out):
    path: str


# --- trainings ----------------------------------------------------------------------------------------------


class TrainingCreate(Body):
    name: str = Field(description="the experiment's folder under logs/ and the exported model's name")
    target_sr: str = Field(description="32k, 40k or 48k")
    if_f0: StrictBool = Field(True, description="a model with pitch guidance (for singing and most voices)")
    version: str = Field("v2", description="v1 or v2")
    dataset_path: str = Field(description="a folder of clips or one recording, inside the allowed roots")
    config: dict[str, Any] | None = Field(None, description="advanced: a run config replacing the preset")


class TrainingUpdate(Body):
    config: dict[str, Any] | None = Field(None, description="a run config replacing the preset ({} for none)")


TrainingOut = record_model(Training, "TrainingOut")


class TrainingDetail(TrainingOut):
    tasks: dict[str, TaskOut] = Field(description="the latest task of each step")
    checkpoints: list[str]
    has_index: bool
    exported_models: list[str]


PreprocessRequest = PreprocessParams.request_model()


class SampleOut(Out):
    name: str
    path: str
    url: str


ExtractRequest = ExtractParams.request_model()
TrainRequest = TrainParams.request_model()


class MetricOut(Out):
    """One step's losses (loss_g, loss_d, loss_mel, loss_kl, loss_fm, lr... as the trainer reports them)."""

    model_config = ConfigDict(extra="allow")
    step: int
    epoch: int
    created: float


IndexRequest = IndexParams.request_model()
ExportRequest = ExportParams.request_model()


class QuickOptions(OneClickParams.request_model()):
    inference: ConvertParamsBody | bool = Field(True, description="the test conversion at the end: its parameters, "
                                                                  "true for the preset's, false for none")
    config: dict[str, Any] | None = Field(None, description="advanced: a run config replacing the preset's model")


class QuickTaskCreate(Body):
    """The v2 API's quick mode: one recording in, a trained voice out."""

    exp_name: str = Field(description="the experiment's and the model's name (409 when it is taken)")
    audio_file_id: str = Field(description="the upload to train on: the path POST /system/upload answered, or its "
                                           "name under uploads/ (404 when there is none)")
    options: QuickOptions = Field(default_factory=QuickOptions)


class QuickRequest(OneClickParams.request_model()):
    name: str = Field(description="the experiment's and the model's name")
    dataset_path: str = Field(description="a folder of clips or one recording, inside the allowed roots")


# --- system -------------------------------------------------------------------------------------------------


class GpuOut(Out):
    index: int
    name: str
    memory_total_mb: int
    memory_used_mb: int
    utilization_percent: int
    temperature_c: int | None


class AcceleratorOut(Out):
    device: str = Field(description="the torch device name to give as a device: cuda:N, xpu:N or mps")
    name: str


class SystemInfoOut(Out):
    platform: str
    python: str
    cpu_count: int
    cpu_percent: float
    memory_total_mb: int
    memory_used_mb: int
    disk_total_mb: int
    disk_free_mb: int
    gpus: list[GpuOut]
    accelerators: list[AcceleratorOut]


class UploadOut(Out):
    path: str
    name: str
    size_bytes: int
    media_type: str = Field(description="what the content is: wav, flac, mpeg, ogg, mp4, matroska, asf, aiff; "
                                        "pytorch-zip or pytorch-pickle (.pth); faiss (.index); f0-curve (.txt, "
                                        ".csv: a pitch curve); zip (a zip of clips, unpacked: path is its folder)")
    files: int | None = Field(None, description="a zip's clips, unpacked into the folder at path")


class EntryOut(Out):
    name: str
    path: str
    is_dir: bool
    size_bytes: int | None
    modified: float = Field(description="last modification, Unix seconds")


class SystemStatusOut(Out):
    timestamp: float = Field(description="when this was read, Unix seconds")
    cpu_percent: float
    memory_percent: float
    disk_percent: float = Field(description="of the disk holding RVC_HOME")
    gpus: list[GpuOut]


class SettingsOut(Out):
    default_f0_method: str
    device: str
    upload_limit_mb: int
    allowed_paths: list[str]
    compile_decoder: bool


class SettingsUpdate(Body):
    """Only the settings given change (each checked: see the answer's detail for the allowed values)."""

    default_f0_method: str | None = None
    device: str | None = Field(None, description="auto, cpu, cuda:N, xpu:N or mps")
    upload_limit_mb: int | None = None
    allowed_paths: list[str] | None = Field(None, description="absolute folders clients may read")
    compile_decoder: bool | None = None


class AssetOut(Out):
    name: str
    path: str
    present: bool
    size_bytes: int | None
    size_ok: bool | None = Field(description="whether the size is the published one (null: none published)")


class AssetDownload(Body):
    names: list[str] = Field(["all"], description="asset names, or groups: all, pretrained, pretrained_v2")


class EventOut(Out):
    """One stored event of a task: the job protocol's line plus its sequence number and time."""

    model_config = ConfigDict(extra="allow")
    seq: int
    type: str


class BrowseOut(Out):
    path: str | None = Field(description="the folder listed (null: the allowed roots are listed)")
    entries: list[EntryOut]
    total: int
    limit: int | None
    offset: int
