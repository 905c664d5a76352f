"""A guest's view of tasks is its own: another's task is "not found" to every task service; an admin sees all."""

from __future__ import annotations

from pathlib import Path

import pytest

from rvc import service
from tests.unit.service.conftest import write_wav

ALICE, BOB = service.Owner("alice", service.GUEST_ROLE), service.Owner("bob", service.GUEST_ROLE)
ROOT = service.Owner("root", service.ADMIN_ROLE)


def foreign_reads(task_id: str) -> dict:
    """Every task service a front end offers a guest, on one task."""
    return {
        "get_task": lambda owner: service.get_task(task_id, owner=owner),
        "get_task(kind)": lambda owner: service.get_task(task_id, "inference", owner=owner),
        "task_events": lambda owner: service.task_events(task_id, owner=owner),
        "follow_task": lambda owner: list(service.follow_task(task_id, owner=owner)),
        "task_outputs": lambda owner: service.task_outputs(task_id, owner=owner),
        "task_output_file": lambda owner: service.task_output_file(task_id, "take_tiny.wav", owner=owner),
        "cancel_task": lambda owner: service.cancel_task(task_id, owner=owner),
    }


def test_each_guest_sees_and_cancels_only_its_own_tasks(home: Path, jobs):
    write_wav(home / "uploads" / "take.wav")
    tasks = {name: service.submit_conversion("uploads/take.wav", "tiny", {"f0_method": "pm"}, owner=owner)
             for name, owner in (("alice", ALICE), ("bob", BOB), ("root", ROOT), ("local", None))}
    assert tasks["alice"]["owner"] == {"user": "alice", "role": "guest"} and tasks["local"]["owner"] is None
    for task in tasks.values():
        service.wait_task(task["id"], timeout=30)

    assert [t["id"] for t in service.list_tasks(owner=ALICE)["items"]] == [tasks["alice"]["id"]]
    assert service.list_tasks(owner=ROOT)["total"] == service.list_tasks()["total"] == 4

    refused = 0
    for name in ("bob", "root", "local"):
        for call in foreign_reads(tasks[name]["id"]).values():
            with pytest.raises(service.NotFound, match=r"^task '\w+' not found$"):  # as for an unknown id
                call(ALICE)
            refused += 1
    assert refused == 21
    for owner in (ALICE, ROOT):  # the guest's own task, and the admin on it: past the owner check
        for name, call in foreign_reads(tasks["alice"]["id"]).items():
            if name == "task_output_file":  # the stand-in worker writes no file
                with pytest.raises(service.NotFound, match="has no output"):
                    call(owner)
            elif name == "cancel_task":  # past the owner check: the task has ended, so nothing to cancel
                with pytest.raises(service.AlreadyFinished, match="nothing to cancel"):
                    call(owner)
            else:
                call(owner)
    assert service.get_task(tasks["alice"]["id"], owner=ALICE)["status"] == "completed"
