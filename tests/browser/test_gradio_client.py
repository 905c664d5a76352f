"""Every action of the page called by name with gradio_client, as a script would (README lists the calls)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.conftest import DATA_DIR

pytestmark = pytest.mark.slow
CLIP = DATA_DIR / "voice_low" / "002.flac"
NAME = "client_voice"
# transpose, f0_method, index_rate, filter_radius, resample_sr, rms_mix_rate, protect, sid, noise_scale, f0_file, format
PARAMS = (0, "pm", 0.75, 3, 0, 0.25, 0.33, 0, 0.66666, None, "wav")


def value(output):
    """A component's value from an output that may be an update (new choices and a value)."""
    return output.get("value") if isinstance(output, dict) and output.get("__type__") == "update" else output


@pytest.fixture(scope="module")
def client(webui_url) -> Client:
    return Client(webui_url, verbose=False)


def test_every_action_is_named(client):
    from tests.unit.tabs.test_app import API_NAMES

    named = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert named == {f"/{name}" for names in API_NAMES.values() for name in names}


def test_inference(client):
    models, _ = client.predict(api_name="/refresh_models")
    index, text = client.predict("tiny", api_name="/match_index")
    assert value(index) == "none" and "v2" in text
    audio, download, timings, _plot = client.predict(handle_file(str(CLIP)), "", "tiny", "auto", *PARAMS,
                                                     api_name="/convert")
    assert Path(audio).is_file() and "total" in timings
    summary, log, outputs = client.predict([handle_file(str(CLIP))], "", "tiny", "none", *PARAMS,
                                           api_name="/convert_batch")
    assert "1/1 converted" in summary and len(outputs) == 1
    with pytest.raises(AppError, match="Upload an audio file"):
        client.predict(None, "", "tiny", "auto", *PARAMS, api_name="/convert")


def test_training_steps(client, browser_home):
    dataset = str(browser_home / "uploads" / "dataset")
    config = str(browser_home / "uploads" / "tiny_config.json")
    assert client.predict("40k", "v2", True, api_name="/pretrained_for") == ("auto", "auto")
    status, log = client.predict(NAME, "40k", "v2", True, [], dataset, None, config, api_name="/preprocess")
    assert "completed" in status
    assert "completed" in client.predict(NAME, "pm", "cpu", api_name="/extract")[0]
    with pytest.raises(AppError, match="nothing to resume"):
        client.predict(NAME, api_name="/resume_training")
    status, log, losses, rates = client.predict(NAME, 1, 2, 1, False, False, False, "auto", "auto", "cpu",
                                                api_name="/train")
    assert "completed" in status
    with pytest.raises(AppError, match="no training task"):
        client.predict(NAME, api_name="/pause_training")
    assert "completed" in client.predict(NAME, api_name="/build_index")[0]
    status, log, files = client.predict(NAME, None, f"{NAME}_e1", False, api_name="/export_model")
    assert "completed" in status and [Path(f).name for f in files] == [f"{NAME}_e1.pth"]
    assert value(client.predict(NAME, api_name="/list_trainings")) == NAME
    loaded = client.predict(NAME, api_name="/load_training")
    assert loaded[:4] == ("40k", "v2", True, dataset)
    with pytest.raises(AppError, match="outside the folders"):
        client.predict("oneclick_voice", [], "/etc", "fast", api_name="/oneclick")


def test_models(client):
    table, *_ = client.predict(None, api_name="/list_models")
    assert "tiny" in [row[0] for row in table["data"]]
    detail, info, name = client.predict("tiny", api_name="/model_detail")
    assert detail["version"] == "v2" and detail["file"].endswith("tiny.pth") and name == "tiny"
    message, *_ = client.predict("tiny", "tiny", 0.5, "merged", "half and half", api_name="/merge_models")
    assert "merged" in message
    message, detail = client.predict("merged", "a merge", api_name="/set_model_info")
    assert detail["info"] == "a merge"
    assert "renamed" in client.predict("merged", "renamed", api_name="/rename_model")[0].lower()
    with pytest.raises(AppError, match="confirm"):
        client.predict("renamed", False, api_name="/delete_model")
    assert "Deleted" in client.predict("renamed", True, api_name="/delete_model")[0]
    with pytest.raises(AppError, match="http"):
        client.predict("ftp://example.com/model.pth", api_name="/import_model")
    message, onnx = client.predict("tiny", api_name="/export_onnx")
    assert Path(onnx).suffix == ".onnx"


def test_small_model_from_a_checkpoint(client):
    loaded = client.predict(NAME, api_name="/load_training")  # buttons and panels are not among the API's outputs
    checkpoint = value(loaded[5])  # after the 4 settings and the summary
    assert checkpoint.startswith("G_")
    status, files = client.predict(NAME, checkpoint, f"{NAME}_small", api_name="/extract_small_model")
    assert "completed" in status and [Path(f).name for f in files] == [f"{NAME}_small.pth"]


def test_tasks(client):
    table, page_text = client.predict("all", "completed", 1, api_name="/list_tasks")
    assert "task(s)" in page_text and table["data"]
    task_id = table["data"][0][0]
    status, log, outputs, params = client.predict(task_id, api_name="/task_detail")
    assert "completed" in status
    assert "completed" in client.predict(task_id, api_name="/follow_task")[0]
    with pytest.raises(AppError, match="completed: there is nothing to cancel"):  # it stays as it was
        client.predict(task_id, api_name="/cancel_task")


def test_delete_a_task(client):
    table, _ = client.predict("inference", "completed", 1, api_name="/list_tasks")
    task_id = table["data"][0][0]
    assert "Deleted" in client.predict(task_id, api_name="/delete_task")
    with pytest.raises(AppError, match="not found"):
        client.predict(task_id, api_name="/task_detail")


def test_system(client):
    info = client.predict(api_name="/system_info")
    assert info["cpu_count"] >= 1 and isinstance(info["gpus"], list)
    assets, names = client.predict(api_name="/asset_status")
    assert any(row[0] == "hubert_base" for row in assets["data"])
    f0_method, device, limit, allowed, compiled = client.predict(api_name="/get_settings")
    message, *saved = client.predict("pm", "cpu", 100, "", True, api_name="/save_settings")
    assert message == "Settings saved." and saved == ["pm", "cpu", 100, "", True]
    client.predict(f0_method, device, limit, allowed, compiled, api_name="/save_settings")
    with pytest.raises(AppError):
        client.predict(["no_such_asset"], api_name="/download_assets")
