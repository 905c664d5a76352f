"""The functions every front end (WebUI tabs, REST API, CLI) shares. They validate input and return plain data.

Front ends import this package only (`from rvc import service`); its modules group the services by subject and
`docs/service-contract.md` lists them with their errors (`rvc.service.errors`).
"""

from rvc.infer.converter import (
    AUTO_INDEX,
    Converter,
    ConvertParams,
    collect_inputs,
    convert,
    convert_batch,
    f0_curves,
    list_index_files,
    list_models,
    model_cache,
    resolve_index,
    resolve_model,
)
from rvc.jobs import ADMIN_ROLE, GUEST_ROLE, Owner, StoreOpenError
from rvc.jobs.records import ModelRecord, Progress, Task, Training, public_fields  # what the answers show
from rvc.params import Params
from rvc.service.errors import (
    AlreadyFinished,
    Conflict,
    NotAllowed,
    NotFound,
    PathNotAllowedError,
    TooLarge,
    UnsupportedMedia,
)
from rvc.service.files import (
    UploadWriter,
    browse,
    client_path,
    media_type,
    own_upload,
    owner_uploads,
    safe_name,
    save_upload,
    upload_limit_bytes,
    uploaded_file,
)
from rvc.service.importer import import_model
from rvc.service.jobs import runner, start_jobs, stop_jobs
from rvc.service.models import (
    delete_model,
    export_onnx,
    list_indexes,
    list_models_detailed,
    merge_models,
    model_detail,
    rename_model,
    set_model_info,
)
from rvc.service.pages import paginate
from rvc.service.system import (
    get_asset_status,
    get_settings,
    get_system_info,
    get_system_status,
    pretrained_for,
    served_roots,
    start_download,
    update_settings,
)
from rvc.service.tasks import (
    FILE_TYPES,
    cancel_task,
    delete_task,
    follow_task,
    get_task,
    is_final,
    list_tasks,
    stream_task,
    submit_conversion,
    task_events,
    task_output_file,
    task_output_of_type,
    task_outputs,
    wait_task,
)
from rvc.service.trainings import (
    create_training,
    delete_training,
    get_training,
    list_trainings,
    pause_training,
    preprocess_report,
    preprocess_sample_file,
    preprocess_samples,
    resume_training,
    start_export,
    start_extract,
    start_index,
    start_oneclick,
    start_preprocess,
    start_train,
    stream_training,
    training_metrics,
    update_training,
)
from rvc.train.params import ExportParams, ExtractParams, IndexParams, OneClickParams, PreprocessParams, TrainParams
from rvc.vocabulary import F0_METHODS, ONECLICK_PRESETS, OUTPUT_FORMATS, SAMPLE_RATES, TASK_KINDS, VERSIONS

__all__ = [
    "f0_curves", "pretrained_for", "served_roots", "start_download", "ADMIN_ROLE", "GUEST_ROLE", "Owner",
    "ModelRecord", "Progress", "Task", "Training", "public_fields",
    "StoreOpenError",
    "AUTO_INDEX", "AlreadyFinished", "F0_METHODS", "Conflict", "ConvertParams", "Converter", "NotAllowed", "NotFound",
    "PathNotAllowedError", "TooLarge", "UnsupportedMedia", "UploadWriter", "browse",
    "owner_uploads", "own_upload", "cancel_task", "client_path",
    "collect_inputs", "convert", "convert_batch", "create_training", "delete_model", "delete_task",
    "delete_training", "export_onnx", "follow_task", "get_asset_status", "get_settings", "get_system_info",
    "get_system_status",
    "get_task", "get_training", "import_model", "is_final", "list_index_files", "list_indexes", "list_models",
    "list_models_detailed", "list_tasks", "list_trainings", "media_type", "merge_models", "model_cache",
    "model_detail", "paginate", "pause_training", "preprocess_report", "preprocess_sample_file",
    "preprocess_samples", "rename_model", "resolve_index", "resolve_model", "resume_training", "runner",
    "safe_name", "save_upload", "set_model_info", "start_export", "start_extract", "start_index", "start_jobs",
    "start_oneclick", "start_preprocess", "start_train", "stop_jobs", "stream_task", "stream_training",
    "submit_conversion", "task_events", "FILE_TYPES", "task_output_file", "task_output_of_type",
    "task_outputs", "training_metrics",
    "update_settings", "update_training", "upload_limit_bytes", "uploaded_file", "wait_task",
    "ONECLICK_PRESETS", "OUTPUT_FORMATS", "SAMPLE_RATES", "TASK_KINDS", "VERSIONS", "ExportParams", "ExtractParams",
    "IndexParams", "OneClickParams", "Params",
    "PreprocessParams", "TrainParams",
]
