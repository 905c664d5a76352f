"""Callbacks of the One-click, Tasks, System and Inference tabs against the in-memory service."""

from __future__ import annotations

import gradio as gr
import pytest

from tabs import inference, oneclick, system, tasks


def test_oneclick_follows_one_task_and_offers_its_outputs(fake, tmp_path):
    fake.script.insert(-1, {"type": "artifact", "kind": "audio", "path": "/out/preview.wav"})  # a trainer preview
    fake.script.insert(-1, {"type": "artifact", "kind": "test_audio", "path": "/out/test.wav"})
    steps = list(oneclick.oneclick("voice", None, str(tmp_path), "fast"))
    status, log, audio, files = steps[-1]
    assert "completed" in status and audio == "/out/test.wav"
    assert files == ["/out/model.pth", "/out/preview.wav", "/out/test.wav"]
    assert all(step[2] is None for step in steps[:-1])  # the test piece only once it is there
    with pytest.raises(gr.Error, match="name"):
        list(oneclick.oneclick(" ", None, str(tmp_path), "fast"))


def test_tasks_page_and_detail(fake):
    task = fake._task("train")
    fake.tasks[task["id"]].update(status="running", progress={"done": 3, "total": 10, "stage": "epoch",
                                                             "message": ""}, started=1.0)
    table, text = tasks.list_page("all", "running", 1)
    assert list(table["id"]) == [task["id"]] and table["progress"][0] == "epoch 3/10"
    assert text == "page 1 of 1 · 1 task(s)"
    assert tasks.list_page("inference", "all", 1)[0].empty
    status, log, outputs, params = tasks.detail(task["id"])
    assert "3/10" in status and "/out/model.pth" in log and outputs == ["/out/model.pth"]
    assert "cancelled" in tasks.cancel(task["id"])
    with pytest.raises(gr.Error, match="not found"):
        tasks.detail("nope")


def test_system_overview_shows_each_gpu():
    info = {"cpu_count": 16, "cpu_percent": 12.5, "memory_total_mb": 131072, "memory_used_mb": 8192,
            "disk_total_mb": 1_000_000, "disk_free_mb": 500_000,
            "gpus": [{"index": 0, "name": "NVIDIA H100", "memory_total_mb": 81559, "memory_used_mb": 1024,
                      "utilization_percent": 37, "temperature_c": 41}]}
    text = system.system_markdown(info)
    assert "16 cores" in text and "NVIDIA H100" in text and "37%" in text and "41 °C" in text
    assert "none found" in system.system_markdown(info | {"gpus": []})


def test_inference_timings_and_pitch_curves():
    result = {"duration_s": 4.0, "sample_rate_hz": 40000, "index": None,
              "timings_s": {"decode": 0.5, "synth": 1.5}}
    assert "**total** | **2.00 s**" in inference.timings_markdown(result)
    frame = inference.f0_frame({"time_s": [0.0, 0.01, 0.02], "input_hz": [100.0, 0.0, 110.0],
                                "output_hz": [200.0, 210.0, 0.0]})
    assert len(frame) == 4 and set(frame["curve"]) == {"input", "output"}  # unvoiced frames left out
    assert inference.f0_frame(None).empty
