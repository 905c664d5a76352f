"""Conversions are checked before they are queued; tasks are listed, looked up by kind, cancelled and followed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import faiss
import numpy as np
import pytest

from rvc import service
from rvc.jobs import JobStore
from tests.unit.service.conftest import write_wav


def write_index(path: Path, dim: int) -> Path:
    index = faiss.IndexFlatL2(dim)
    index.add(np.random.default_rng(0).standard_normal((16, dim)).astype(np.float32))
    path.parent.mkdir(parents=True, exist_ok=True)
    faiss.write_index(index, str(path))
    return path


def test_a_conversion_is_queued_with_everything_resolved(home: Path, jobs):
    source = write_wav(home / "uploads" / "take.wav")
    task = service.submit_conversion("uploads/take.wav", "tiny", {"f0_method": "pm", "index_rate": 0})
    assert task["kind"] == "inference" and task["status"] in ("queued", "running")
    request = task["params"]
    assert request["input_path"] == str(source)
    assert request["model"] == str(home / "assets" / "weights" / "tiny.pth")
    assert request["params"]["f0_method"] == "pm" and request["index"] is None
    output = Path(request["output_path"])
    assert output.parent.parent == home / "outputs" / "api" and output.name == "take_tiny.wav"
    assert service.wait_task(task["id"], timeout=60)["status"] == "completed"


@pytest.mark.parametrize(("arguments", "error", "message"), [
    (("/etc/hostname", "tiny"), service.PathNotAllowedError, "outside"),
    (("uploads/../../secret.wav", "tiny"), service.PathNotAllowedError, "outside"),
    (("uploads/missing.wav", "tiny"), FileNotFoundError, "does not exist"),
    (("uploads", "tiny"), FileNotFoundError, "not a file"),
    (("uploads/take.wav", "nobody"), service.NotFound, "model 'nobody' not found"),
    (("uploads/take.wav", "../weights/tiny"), service.NotFound, "not found"),
    (("uploads/take.wav", "tiny", {"index_rate": 2}), ValueError, "index_rate"),
    (("uploads/take.wav", "tiny", {"pitch": 3}), ValueError, "unknown parameter"),
    (("uploads/take.wav", "tiny", {"f0_method": "nope"}), ValueError, "f0_method"),
    (("uploads/take.wav", "tiny", {}, None, "exe"), ValueError, "output_format"),
    (("uploads/take.wav", "tiny", {"f0_file": "/etc/passwd"}), service.PathNotAllowedError, "outside"),
])
def test_bad_requests_are_refused_before_queuing(home: Path, jobs, arguments, error, message):
    write_wav(home / "uploads" / "take.wav")
    with pytest.raises(error, match=message):
        service.submit_conversion(*arguments)
    assert service.list_tasks()["total"] == 0


def test_an_index_of_the_wrong_width_is_refused(home: Path, jobs):
    write_wav(home / "uploads" / "take.wav")
    write_index(home / "assets" / "indices" / "tiny_v1.index", 256)
    with pytest.raises(ValueError, match="256-d features but model tiny"):
        service.submit_conversion("uploads/take.wav", "tiny", {"index_rate": 0.5}, "auto")
    right = write_index(home / "assets" / "indices" / "other_v2.index", 768)
    task = service.submit_conversion("uploads/take.wav", "tiny", {"index_rate": 0.5}, str(right))
    assert task["params"]["index"] == str(right)
    assert service.submit_conversion("uploads/take.wav", "tiny", {"index_rate": 0}, "auto")["params"]["index"] is None


def test_tasks_are_looked_up_by_kind_listed_by_page_and_cancelled(home: Path, jobs):
    write_wav(home / "uploads" / "take.wav")
    ids = [service.submit_conversion("uploads/take.wav", "tiny")["id"] for _ in range(3)]
    page = service.list_tasks("inference", limit=2, offset=1)
    assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 1
    assert [task["id"] for task in page["items"]] == ids[::-1][1:]
    assert service.list_tasks("oneclick")["total"] == 0
    with pytest.raises(service.NotFound):
        service.get_task(ids[0], "oneclick")
    with pytest.raises(service.NotFound):
        service.get_task("no-such-task")
    with pytest.raises(ValueError, match="status 'done' is unknown"):
        service.list_tasks(status="done")
    cancelled = service.cancel_task(ids[-1], "inference")
    assert cancelled["status"] in ("cancelled", "completed")  # the stand-in may have been quicker than the cancel


def test_following_a_task_replays_then_ends_after_the_final_event(home: Path, jobs):
    write_wav(home / "uploads" / "take.wav")
    task_id = service.submit_conversion("uploads/take.wav", "tiny")["id"]
    events = list(service.follow_task(task_id))
    assert events[0]["type"] == "status" and events[0]["status"] == "queued"
    assert service.is_final(events[-1]) and events[-1]["status"] == "completed"
    assert [e["seq"] for e in events] == list(range(len(events)))

    async def collect() -> list[dict]:
        return [event async for event in service.stream_task(task_id, from_seq=2)]

    assert asyncio.run(collect()) == events[2:]
    outputs = service.task_outputs(task_id)
    assert outputs == []  # the stand-in worker writes no file, so nothing is offered for download


@pytest.mark.skipif(not hasattr(JobStore, "delete_task"), reason="JobStore.delete_task is not in rvc.jobs yet")
def test_deleting_a_task_removes_its_record_and_outputs(home: Path, jobs):
    write_wav(home / "uploads" / "take.wav")
    task = service.submit_conversion("uploads/take.wav", "tiny")
    service.wait_task(task["id"], timeout=60)
    output = Path(task["params"]["output_path"])
    output.parent.mkdir(parents=True)
    write_wav(output)
    service.runner().store.append_event(task["id"], "artifact", {"kind": "audio", "path": str(output)})
    assert [o["name"] for o in service.task_outputs(task["id"])] == [output.name]
    service.delete_task(task["id"])
    assert not output.parent.exists()
    with pytest.raises(service.NotFound):
        service.get_task(task["id"])


def test_a_running_task_cannot_be_deleted(home: Path):
    service.start_jobs(command=["sleep"], grace_s=1.0)
    try:
        task = service.runner().submit("wait", ["30"])
        with pytest.raises(service.Conflict, match="cancel it"):
            service.delete_task(task)
    finally:
        service.stop_jobs()


def test_a_command_this_installation_lacks_is_refused_before_queuing():
    from rvc.service.jobs import require_command

    require_command("infer")
    with pytest.raises(NotImplementedError, match="no `python -m rvc no-such-step` command"):
        require_command("no-such-step")
