"""The functions every front end (WebUI tabs, REST API, CLI) shares. They validate input and return plain data.

Front ends import this package only (`from rvc import service`); its modules group the services by subject.
"""

from rvc.infer import F0_METHODS
from rvc.service.conversion import (
    AUTO_INDEX,
    Converter,
    ConvertParams,
    client_path,
    collect_inputs,
    convert,
    convert_batch,
    list_index_files,
    list_models,
    model_cache,
    resolve_index,
    resolve_model,
)
from rvc.service.system import get_asset_status, get_settings, get_system_info, update_settings

__all__ = [
    "AUTO_INDEX", "F0_METHODS", "ConvertParams", "Converter", "client_path", "collect_inputs", "convert",
    "convert_batch", "get_asset_status", "get_settings", "get_system_info", "list_index_files", "list_models",
    "model_cache", "resolve_index", "resolve_model", "update_settings",
]
