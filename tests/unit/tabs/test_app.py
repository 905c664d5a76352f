"""The page as the launcher builds it: every tab, every action callable by name."""

from __future__ import annotations

import gradio as gr
import pytest

import tabs
from webui import build_app

API_NAMES = {
    "inference": ["refresh_models", "match_index", "convert", "convert_batch"],
    "train": ["list_trainings", "load_training", "pretrained_for", "preprocess", "extract", "train", "pause_training",
              "resume_training", "build_index", "export_model"],
    "oneclick": ["oneclick"],
    "models": ["list_models", "model_detail", "import_model", "rename_model", "delete_model", "set_model_info",
               "export_onnx", "merge_models", "extract_small_model"],
    "tasks": ["list_tasks", "task_detail", "follow_task", "cancel_task", "delete_task"],
    "system": ["system_info", "asset_status", "get_settings", "download_assets", "save_settings"],
}


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> gr.Blocks:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RVC_HOME", str(tmp_path_factory.mktemp("home")))
        yield build_app()


def test_tabs_in_order():
    assert [tab.__name__.split(".")[-1] for tab in tabs.TABS] == list(API_NAMES)


def test_every_action_has_its_api_name(app):
    public = [fn.api_name for fn in app.fns.values() if fn.api_visibility == "public"]
    assert sorted(public) == sorted(name for names in API_NAMES.values() for name in names)


def test_every_button_does_something(app):
    wired = {target[0] for fn in app.fns.values() for target in fn.targets}
    buttons = [block for block in app.blocks.values() if isinstance(block, gr.Button)]
    assert buttons and all(button._id in wired for button in buttons)
