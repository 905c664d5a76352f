"""Nasty audio through `rvc.service.convert` and through a running server: each file converts (finite output as
long as the input, at the model's rate) or fails with a message naming the problem; nothing hangs.

The conversions use the tiny v2 40 kHz model with pm pitch. A 10-minute input is checked up to the segment plan
only (decoding and cutting, where its length matters): converting it whole takes minutes on a 2-core CPU.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile

from rvc import service
from rvc.audio import AudioError, load_audio
from rvc.infer.segments import CPU_SEGMENTS, SAMPLE_RATE_16K_HZ, WINDOW_SAMPLES, find_cut_points, plan_segments
from tests.factories import tiny_pth
from tests.integration.conftest import start_webui, stop

MODEL_RATE_HZ = 40_000
PM = {"f0_method": "pm", "noise_scale": 0.0, "index_rate": 0.0}
CONVERT_LIMIT_S = 120  # far above a tiny-model conversion of a second of audio: passing it means a hang
TASKS_LIMIT_S = 180


def voice_like(sample_rate_hz: int, duration_s: float, channels: int = 1, gain: float = 0.5) -> np.ndarray:
    """A 150 Hz buzz with a 3 Hz syllable envelope: voiced, so pm finds a pitch; (frames,) or (frames, channels)."""
    t = np.arange(round(sample_rate_hz * duration_s)) / sample_rate_hz
    buzz = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6))
    mono = (gain * 0.5 * buzz * (0.5 - 0.5 * np.cos(2 * np.pi * 3 * t))).astype(np.float32)
    return mono if channels == 1 else np.repeat(mono[:, None], channels, axis=1)


def with_bad_samples(value: float) -> np.ndarray:
    audio = voice_like(16_000, 1.0)
    audio[4_000:4_010] = value
    return audio


@dataclass(frozen=True)
class BadAudio:
    name: str
    write: Callable[[Path], object]
    refused: str | None = None  # regex of the error when the file must be refused; None: it must convert
    names_file: bool = True  # whether the error can name the file (the pipeline, below the files, cannot)


CASES = (
    BadAudio("silence.wav", lambda path: soundfile.write(path, np.zeros(16_000, np.float32), 16_000)),
    BadAudio("short_100ms.wav", lambda path: soundfile.write(path, voice_like(44_100, 0.1), 44_100)),
    BadAudio("rate_8k.wav", lambda path: soundfile.write(path, voice_like(8_000, 1.0), 8_000)),
    BadAudio("rate_192k.wav", lambda path: soundfile.write(path, voice_like(192_000, 1.0), 192_000)),
    BadAudio("clipped.wav", lambda path: soundfile.write(path, voice_like(16_000, 1.0, gain=4.0), 16_000, "FLOAT")),
    BadAudio("six_channels.wav", lambda path: soundfile.write(path, voice_like(48_000, 1.0, channels=6), 48_000)),
    BadAudio("nan.wav", lambda path: soundfile.write(path, with_bad_samples(np.nan), 16_000, "FLOAT"),
             refused=r"10 of 16000 samples are NaN or infinite"),
    BadAudio("inf.wav", lambda path: soundfile.write(path, with_bad_samples(np.inf), 16_000, "FLOAT"),
             refused=r"10 of 16000 samples are NaN or infinite"),
    BadAudio("empty.wav", lambda path: path.write_bytes(b""), refused=r"the file is empty \(0 bytes\)"),
    BadAudio("text.wav", lambda path: path.write_text("these are notes, not audio\n" * 20),
             refused=r"cannot decode audio: not a media file"),
    BadAudio("too_short_5ms.wav", lambda path: soundfile.write(path, voice_like(16_000, 0.005), 16_000),
             refused=r"too short to convert: 5\.0 ms, at least 10 ms", names_file=False),
)


@pytest.fixture(scope="module")
def bad_audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad_audio")
    for case in CASES:
        case.write(folder / case.name)
    return folder


def expected_samples(path: Path) -> int:
    """The pipeline keeps every whole 10 ms frame of the input: output = frames x (model rate / 100)."""
    return len(load_audio(path, SAMPLE_RATE_16K_HZ)) // WINDOW_SAMPLES * (MODEL_RATE_HZ // 100)


def bounded(call: Callable[[], object], limit_s: float) -> object:
    """``call()``'s result (or its exception, raised here); fails the test when it runs past ``limit_s``."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except Exception as error:  # handed to the test's thread below
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(limit_s)
    if worker.is_alive():
        pytest.fail(f"still running after {limit_s} s: a hang")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def check_converted(output: Path, source: Path) -> np.ndarray:
    audio, rate = soundfile.read(output, dtype="float32")
    assert rate == MODEL_RATE_HZ and audio.ndim == 1
    assert len(audio) == expected_samples(source)
    assert np.isfinite(audio).all()
    return audio


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_convert_or_a_clear_refusal(case: BadAudio, bad_audio: Path, home_env, tmp_path: Path) -> None:
    source, output = bad_audio / case.name, tmp_path / "out.wav"
    convert = lambda: service.convert(source, "tiny", output, params=PM, index=None)  # noqa: E731
    if case.refused is None:
        result = bounded(convert, CONVERT_LIMIT_S)
        audio = check_converted(Path(result["output_path"]), source)
        print(f"{case.name}: converted, {len(audio)} samples at {MODEL_RATE_HZ} Hz, peak {np.abs(audio).max():.3f}")
        if case.name != "silence.wav":
            assert np.abs(audio).max() > 0.01
        return
    with pytest.raises(ValueError, match=case.refused) as error:
        bounded(convert, CONVERT_LIMIT_S)
    print(f"{case.name}: refused, {error.value}")
    if case.names_file:
        assert isinstance(error.value, AudioError) and str(source) in str(error.value)
    assert not output.exists()


def test_ten_minutes_decode_and_cut_into_bounded_segments(tmp_path: Path) -> None:
    """10 minutes of 22.05 kHz audio: decoded to 16 kHz and planned as ~15 s segments, each of bounded size."""
    path = tmp_path / "ten_minutes.wav"
    soundfile.write(path, np.tile(voice_like(22_050, 10.0), 60), 22_050)
    start = time.perf_counter()
    audio = bounded(lambda: load_audio(path, SAMPLE_RATE_16K_HZ), 60)
    cuts = find_cut_points(audio, CPU_SEGMENTS)
    plan = plan_segments(cuts, CPU_SEGMENTS)
    elapsed_s = time.perf_counter() - start
    print(f"10 min: decoded and planned in {elapsed_s:.1f} s, {len(plan)} segments")
    assert len(audio) == 600 * SAMPLE_RATE_16K_HZ and np.isfinite(audio).all()
    assert len(plan) == len(cuts) + 1 == 600 // CPU_SEGMENTS.x_center
    starts = [segment.frame_start for segment in plan]
    assert starts == sorted(set(starts)) and starts[0] == 0
    longest_s = CPU_SEGMENTS.x_center + 2 * CPU_SEGMENTS.x_query + 2 * CPU_SEGMENTS.x_pad
    padded = len(audio) + 2 * CPU_SEGMENTS.pad_samples
    lengths = [(segment.stop or padded) - segment.start for segment in plan]
    assert max(lengths) <= longest_s * SAMPLE_RATE_16K_HZ + WINDOW_SAMPLES


# --- the same files against a running server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, rvc_home: Path, bad_audio: Path) -> Iterator[tuple[str, object]]:
    """webui.py on its own home, with the bad files' folder allowed; its /api/v2 URL and process."""
    home = tmp_path_factory.mktemp("bad_audio_home")
    (home / "assets" / "weights").mkdir(parents=True)
    shutil.copy(tiny_pth("tiny_v2_f0_40k"), home / "assets" / "weights" / "tiny.pth")
    env = dict(os.environ, RVC_HOME=str(home), RVC_EMBEDDER=str(rvc_home / "embedder"), OMP_NUM_THREADS="1")
    process, url = start_webui(env, "--allowed-path", str(bad_audio))
    yield f"{url}api/v2", process
    stop(process)


@pytest.mark.slow  # a server start and eleven tasks: about 30 s on 2 cores
def test_the_server_answers_every_file_and_stays_up(server, bad_audio: Path) -> None:
    url, process = server
    with httpx.Client(base_url=url, timeout=30) as api:
        uploads = {}
        for case in CASES:
            with open(bad_audio / case.name, "rb") as file:
                uploads[case.name] = api.post("/system/upload", files={"file": (case.name, file)}).status_code
        tasks = {}
        for case in CASES:
            answer = api.post("/inference/tasks", json={"model_id": "tiny", "audio_path": str(bad_audio / case.name),
                                                        "params": PM, "index": None})
            assert answer.status_code in (201, 422), answer.text
            tasks[case.name] = answer.json() if answer.status_code == 201 else {"status": "422", **answer.json()}
        deadline = time.monotonic() + TASKS_LIMIT_S
        for case in CASES:
            task = tasks[case.name]
            while task.get("id") and task["status"] in ("queued", "running"):
                assert time.monotonic() < deadline, f"{case.name}: task still {task['status']} after {TASKS_LIMIT_S} s"
                time.sleep(0.2)
                task = tasks[case.name] = api.get(f"/inference/tasks/{task['id']}").json()
        assert api.get("/system/info").status_code == 200 and process.poll() is None
    for case in CASES:
        task = tasks[case.name]
        print(f"{case.name}: upload {uploads[case.name]}, task {task['status']}: "
              f"{task.get('error') or task.get('detail') or task['result']['output_path']}")
        if case.refused is None:
            assert task["status"] == "completed", task
            check_converted(Path(task["result"]["output_path"]), bad_audio / case.name)
        else:
            assert task["status"] in ("failed", "422"), task
            assert re.search(case.refused, task.get("error") or task["detail"]), task
