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


def own_take(owner: service.Owner | None) -> str:
    """A recording in ``owner``'s uploads, as the service stores one."""
    return service.save_upload("take.wav", [write_wav(Path(service.owner_uploads(None)) / "source.wav").read_bytes()],
                               owner=owner)["path"]


def test_each_guest_sees_and_cancels_only_its_own_tasks(home: Path, jobs):
    tasks = {name: service.submit_conversion(own_take(owner), "tiny", {"f0_method": "pm"}, owner=owner)
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


def test_a_guest_converts_only_its_own_uploads_and_learns_nothing_of_others(home: Path, jobs):
    alice_take, bob_take = own_take(ALICE), own_take(BOB)
    assert Path(alice_take).name == Path(bob_take).name == "take.wav"  # no "take (1).wav" telling of another's
    assert Path(alice_take).parent != Path(bob_take).parent
    write_wav(home / "logs" / "voice" / "take.wav")
    answers = set()
    for path in (bob_take, str(home / "logs" / "voice" / "take.wav"), "uploads/source.wav", "uploads/nothing.wav",
                 "/etc/passwd"):
        for params in ({"f0_method": "pm"}, {"f0_method": "pm", "f0_file": path}):
            source = alice_take if "f0_file" in params else path
            with pytest.raises(service.NotFound) as refused:
                service.submit_conversion(source, "tiny", params, owner=ALICE)
            answers.add(str(refused.value).replace(repr(path), "PATH"))
    assert answers == {"no upload of yours at PATH: upload the file first"}  # the same for existing and missing
    assert service.submit_conversion(alice_take, "tiny", {"f0_method": "pm"}, owner=ALICE)["status"] == "queued"
    assert service.submit_conversion(alice_take, "tiny", {"f0_method": "pm"}, owner=ROOT)["status"] == "queued"
