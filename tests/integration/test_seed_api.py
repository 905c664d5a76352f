"""The RVC WebUI v2 API's own request bodies, sent literally to a real server: the training steps with
``thread_count`` and an integer ``gpu_id``, and quick mode (one-click tasks) as designed, with its 2xx/404/409/400.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DATA_DIR
from tests.factories import write_rule_rmvpe
from tests.integration.conftest import start_webui, stop
from tests.integration.test_api import TOKEN, final, home_env, make_home, upload
from tests.unit.train.tiny_experiment import tiny_config


@pytest.fixture(scope="module")
def api(tmp_path_factory, rvc_home: Path) -> Iterator[httpx.Client]:
    home = make_home(tmp_path_factory.mktemp("seed_home"))
    write_rule_rmvpe(home / "assets" / "rmvpe" / "rmvpe.pt")  # the seed's extract body asks for rmvpe
    process, url = start_webui(home_env(home, rvc_home), "--api-token", TOKEN)
    with httpx.Client(base_url=f"{url}api/v2", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
        yield client
    stop(process)


@pytest.mark.slow
def test_the_seed_training_bodies_are_accepted_as_written(api: httpx.Client):
    for clip in sorted((DATA_DIR / "voice_low").glob("*.flac"))[:3]:
        assert upload(api, clip, folder="seed_set").status_code == 201
    created = api.post("/trainings", json={"name": "seed", "target_sr": "40k", "if_f0": True, "version": "v2",
                                           "dataset_path": "uploads/seed_set", "config": tiny_config()})
    assert created.status_code == 201, created.text
    base = f"/trainings/{created.json()['id']}"

    preprocess = api.post(f"{base}/preprocess", json={"thread_count": 8})
    assert preprocess.status_code == 202, preprocess.text
    assert preprocess.json()["params"]["n_proc"] == 8
    assert final(api, preprocess.json()["id"])[0] == "completed"

    extract = api.post(f"{base}/extract", json={"f0_method": "rmvpe", "gpu_id": 0})
    assert extract.status_code == 202, extract.text
    assert {key: extract.json()["params"][key] for key in ("f0_method", "devices")} == {"f0_method": "rmvpe",
                                                                                        "devices": "0"}
    status, task = final(api, extract.json()["id"])  # GPU 0: completes on a GPU machine, fails clearly on the CPU
    assert status == "completed" or "GPU 0 is not available" in task["error"], task
    on_cpu = api.post(f"{base}/extract", json={"f0_method": "pm", "gpu_id": "cpu"})
    assert final(api, on_cpu.json()["id"])[0] == "completed"

    train = api.post(f"{base}/train/start", json={"total_epoch": 100, "batch_size": 8, "save_every_epoch": 5,
                                                  "gpu_id": 0})
    assert train.status_code == 202, train.text
    params = train.json()["params"]
    assert (params["epochs"], params["batch_size"], params["save_every"], params["devices"]) == (100, 8, 5, "0")
    cancelled = api.post(f"/tasks/{train.json()['id']}/cancel")
    assert cancelled.status_code in (200, 400)  # 400: it had already failed (no GPU 0 here)
    final(api, train.json()["id"])


@pytest.mark.slow
def test_quick_mode_as_designed(api: httpx.Client):
    uploaded = upload(api, DATA_DIR / "voice_high_long.flac")
    assert uploaded.status_code == 201
    options = {"preset": "fast", "epochs": 2, "config": tiny_config(), "inference": {"transpose": 2, "f0_method": "pm"}}
    broken = api.post("/tasks", json={"exp_name": "quick", "audio_file_id": 7, "options": {"preset": "slow"}})
    assert broken.status_code == 422 and "preset" in broken.json()["detail"]

    missing = api.post("/tasks", json={"exp_name": "quick", "audio_file_id": "nothing.wav", "options": options})
    assert missing.status_code == 404 and "no uploaded file" in missing.json()["detail"], missing.text
    created = api.post("/tasks", json={"exp_name": "quick", "audio_file_id": uploaded.json()["path"],
                                       "options": options})
    assert created.status_code == 201, created.text
    task = created.json()
    assert task["kind"] == "oneclick" and task["params"]["inference"]["transpose"] == 2
    taken = api.post("/tasks", json={"exp_name": "quick", "audio_file_id": uploaded.json()["name"]})
    assert taken.status_code == 409

    status, done = final(api, task["id"])
    assert status == "completed", done
    assert api.get(f"/tasks/{task['id']}").json()["status"] == "completed"
    again = api.post(f"/tasks/{task['id']}/cancel")
    assert again.status_code == 400 and "nothing to cancel" in again.json()["detail"]

    outputs = api.get(f"/tasks/{task['id']}/outputs").json()
    kinds = {output["kind"]: output for output in outputs}
    assert {"model", "index", "test_audio", "ref_audio"} <= set(kinds)
    assert all(output["created_at"] > 0 and output["size_bytes"] > 0 for output in outputs)
    for file_type, kind in (("output", "test_audio"), ("ref_audio", "ref_audio"), ("model", "model")):
        answer = api.get(f"/tasks/{task['id']}/outputs/{file_type}")
        assert answer.status_code == 200 and len(answer.content) == kinds[kind]["size_bytes"]
        assert kinds[kind]["url"].endswith(f"/tasks/{task['id']}/outputs/{file_type}")
    assert api.get(f"/tasks/{task['id']}/outputs/nope").status_code == 422

    without = api.post("/tasks", json={"exp_name": "quick_silent", "audio_file_id": uploaded.json()["name"],
                                       "options": options | {"inference": False}})
    assert final(api, without.json()["id"])[0] == "completed"
    kinds = {output["kind"] for output in api.get(f"/tasks/{without.json()['id']}/outputs").json()}
    assert {"model", "index"} <= kinds and not kinds & {"test_audio", "ref_audio"}
