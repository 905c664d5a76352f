"""Service errors reach the user as messages; a job's events become live views with progress and log."""

from __future__ import annotations

import gradio as gr
import pytest

from tabs import common


def test_user_errors_become_gradio_errors_in_plain_and_generator_callbacks():
    @common.user_errors
    def plain():
        raise FileNotFoundError("model 'x' not found: put it in assets/weights")

    @common.user_errors
    def generator():
        yield 1
        raise LookupError("task 't' not found")

    with pytest.raises(gr.Error, match="put it in assets/weights"):
        plain()
    steps = generator()
    assert next(steps) == 1
    with pytest.raises(gr.Error, match="task 't' not found"):
        next(steps)


def test_other_errors_are_not_hidden():
    @common.user_errors
    def broken():
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        broken()


def test_event_fields_accept_flat_and_nested_events():
    flat = {"type": "result", "status": "completed", "data": {"x": 1}, "seq": 3, "task_id": "t", "created": 0}
    assert common.event_fields(flat) == ("result", flat)
    assert common.event_fields({"seq": 1, "type": "log", "data": {"message": "hi"}}) == ("log", {"message": "hi"})


def test_follow_yields_progress_log_and_the_final_state(fake):
    task = fake._task("index")
    views = list(common.follow(task["id"]))
    assert views[0].status == "queued"
    assert any(view.total == 2 and view.running for view in views)
    final = views[-1]
    assert final.status == "completed" and not final.running
    assert "started" in final.log_text and "/out/model.pth" in final.log_text
    assert "completed" in final.markdown()


def test_status_markdown_shows_progress_eta_and_error():
    view = common.TaskView(task_id="t", kind="train", status="running", stage="epoch", done=3, total=12, eta_s=75)
    text = view.markdown()
    assert "3/12 (25%)" in text and "ETA 1m 15s" in text
    failed = common.TaskView(task_id="t", status="failed", error="CUDA out of memory: lower the batch size")
    assert "lower the batch size" in failed.markdown()


def test_save_uploads_go_through_the_service_with_the_limit(fake, tmp_path):
    clip = tmp_path / "a.wav"
    clip.write_bytes(b"RIFF....WAVE")
    assert common.save_uploads([str(clip)], folder="set") == ["/uploads/set/a.wav"]
    assert fake.calls[-1] == ("save_upload", ("a.wav", 12, 1024 * 1024), {"folder": "set", "owner": None})


def test_a_gradio_error_passes_unchanged():
    @common.user_errors
    def refuse():
        raise gr.Error("Choose a model first.")

    with pytest.raises(gr.Error) as caught:
        refuse()
    assert caught.value.message == "Choose a model first."
