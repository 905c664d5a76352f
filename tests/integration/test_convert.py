"""Conversion end to end through the service, the CLI and gradio_client against a running webui.py."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile

from rvc import service
from rvc.audio import load_audio, read_audio
from rvc.embedders import EmbedderError, load_embedder
from rvc.infer import ModelCache
from rvc.retrieval import build_index
from tests.conftest import DATA_DIR, PROJECT_ROOT
from tests.integration.conftest import start_webui, stop

SOURCE = DATA_DIR / "source_speech_stereo48k.wav"
PM_DETERMINISTIC = {"f0_method": "pm", "noise_scale": 0.0}


def expected_samples(path: Path, sample_rate: int) -> int:
    return len(load_audio(path, 16000)) // 160 * (sample_rate // 100)


@pytest.fixture(scope="module")
def own_index(rvc_home: Path) -> Path:
    """An index built from the embedder's features of the voice_low clips, named after the model."""
    embedder = load_embedder(rvc_home / "embedder")
    features = rvc_home / "logs" / "tiny" / "3_feature768"
    features.mkdir(parents=True, exist_ok=True)
    for number, clip in enumerate(sorted((DATA_DIR / "voice_low").glob("*.flac"))[:8]):
        np.save(features / f"{number}.npy", embedder.extract(load_audio(clip, 16000), "v2")[0].detach().numpy())
    return build_index(features, rvc_home / "logs" / "tiny", "tiny", "v2").added_path


@pytest.mark.parametrize("f0_method", ["pm", "fcpe"])
@pytest.mark.parametrize("with_index", [False, True])
def test_whole_file_through_the_service(home_env, rvc_home, own_index, tmp_path, f0_method, with_index):
    params = {"f0_method": f0_method, "noise_scale": 0.0, "index_rate": 0.75 if with_index else 0.0}
    index = "auto" if with_index else None
    first = service.convert(SOURCE, "tiny", tmp_path / "a.flac", params=params, index=index)
    second = service.convert(SOURCE, "tiny", tmp_path / "b.wav", params=params, index=index)
    assert first["sample_rate_hz"] == 40000
    assert first["index"] == (str(own_index) if with_index else None)
    a, rate = soundfile.read(first["output_path"], dtype="int16")
    b, _ = soundfile.read(second["output_path"], dtype="int16")
    assert rate == 40000 and a.ndim == 1
    assert abs(len(a) - expected_samples(SOURCE, 40000)) <= 400
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert np.abs(a).max() > 100
    assert set(first["timings_s"]) >= {"decode", "f0", "hubert", "index", "synth", "write"}


def test_models_load_once_per_batch(home_env, rvc_home, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for clip in sorted((DATA_DIR / "voice_low").glob("*.flac"))[:3]:
        (folder / clip.name).write_bytes(clip.read_bytes())
    (folder / "broken.wav").write_text("not audio")
    cache = service.model_cache()
    cache.clear()
    loads_before = cache.loads
    result = service.convert_batch(folder, "tiny", tmp_path / "out", params=PM_DETERMINISTIC, index=None,
                                   output_format="flac")
    assert len(result["outputs"]) == 3 and len(result["errors"]) == 1
    assert "broken.wav" in result["errors"][0]["input_path"]
    assert cache.loads - loads_before == 3  # synthesizer, embedder, pm extractor: once for the batch
    for output in result["outputs"]:
        assert Path(output["output_path"]).suffix == ".flac" and Path(output["output_path"]).is_file()


def test_the_compile_setting_reaches_loaded_models(home_env, rvc_home):
    from rvc.settings import load_settings, save_settings

    try:
        save_settings(load_settings().replace(compile_decoder=True))
        assert service.Converter("tiny", service.ConvertParams(f0_method="pm")).synthesizer.dec.compiled
        save_settings(load_settings().replace(compile_decoder=False))
        assert not service.Converter("tiny", service.ConvertParams(f0_method="pm")).synthesizer.dec.compiled
    finally:
        (rvc_home / "settings.json").unlink(missing_ok=True)


def test_missing_hubert_names_the_download_command(rvc_home, tmp_path, monkeypatch):
    monkeypatch.setenv("RVC_HOME", str(rvc_home))
    monkeypatch.delenv("RVC_EMBEDDER", raising=False)
    with pytest.raises(FileNotFoundError, match="python -m rvc download hubert_base"):
        service.convert(SOURCE, "tiny", tmp_path / "x.wav", params=PM_DETERMINISTIC, index=None)


def test_bad_parameters_are_named(home_env, tmp_path):
    with pytest.raises(ValueError, match="index_rate"):
        service.convert(SOURCE, "tiny", tmp_path / "x.wav", params={"index_rate": 3})
    with pytest.raises(FileNotFoundError, match="nosuchmodel"):
        service.convert(SOURCE, "nosuchmodel", tmp_path / "x.wav")
    with pytest.raises(ValueError, match="format"):
        service.convert(SOURCE, "tiny", tmp_path / "x.xyz", params=PM_DETERMINISTIC)


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rvc", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_cli_single_file_and_folder(home_env, tmp_path):
    out = tmp_path / "single.flac"
    done = run_cli(home_env, "infer", str(SOURCE), "-m", "tiny", "-o", str(out), "--f0-method", "pm",
                   "--noise-scale", "0", "--index", "none")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["type"] == "result" and events[-1]["data"]["output_path"] == str(out)
    assert any(e["type"] == "progress" for e in events)
    assert read_audio(out).sample_rate_hz == 40000

    folder_in, folder_out = tmp_path / "in", tmp_path / "out"
    folder_in.mkdir()
    for clip in sorted((DATA_DIR / "voice_low").glob("*.flac"))[:3]:
        (folder_in / clip.name).write_bytes(clip.read_bytes())
    done = run_cli(home_env, "infer", str(folder_in), "-m", "tiny", "-o", str(folder_out),
                   "--f0-method", "pm", "--format", "mp3", "--index", "none", "--transpose", "-3")
    assert done.returncode == 0, done.stderr
    assert sorted(p.stem for p in folder_out.glob("*.mp3")) == ["001_tiny", "002_tiny", "003_tiny"]


def test_cli_reports_errors_as_events(home_env, tmp_path):
    done = run_cli(home_env, "infer", str(SOURCE), "-m", "tiny", "-o", str(tmp_path / "x.wav"), "--protect", "0.9")
    assert done.returncode == 2
    event = json.loads(done.stdout.splitlines()[-1])
    assert event["type"] == "error" and "protect" in event["message"]


def test_gradio_client_converts_through_a_running_webui(home_env, tmp_path):
    from gradio_client import Client, handle_file

    process, url = start_webui(home_env)
    try:
        client = Client(url, verbose=False)
        output, download, timings, f0_plot = client.predict(
            handle_file(str(SOURCE)), "", "tiny", "none", 0, "pm", 0.75, 3, 0, 0.25, 0.33, 0, 0, None, "wav",
            api_name="/convert",
        )
    finally:
        stop(process)
    audio = read_audio(output)
    assert audio.sample_rate_hz == 40000
    assert abs(audio.samples.shape[-1] - expected_samples(SOURCE, 40000)) <= 400
    assert "synth" in timings
    assert f0_plot["data"], "the f0 curves of input and output are plotted"


def test_a_converter_is_ready_before_the_shared_models_load(home_env, tmp_path, monkeypatch):
    """The voice model loads in the constructor; HuBERT loads behind it, and the first conversion waits for it."""
    hubert_may_load = threading.Event()
    load_embedder = ModelCache.embedder

    def held_back(cache, path):
        assert hubert_may_load.wait(60), "the test never released the embedder"
        return load_embedder(cache, path)

    monkeypatch.setattr(ModelCache, "embedder", held_back)
    service.model_cache().clear()
    converter = service.Converter("tiny", service.ConvertParams(**PM_DETERMINISTIC), index=None)
    assert converter.synthesizer.info.sample_rate == 40000  # returned while the embedder was still held back
    hubert_may_load.set()
    result = converter.convert_file(SOURCE, tmp_path / "out.wav")
    assert result["sample_rate_hz"] == 40000


def test_a_broken_embedder_is_named_when_the_conversion_needs_it(home_env, tmp_path, monkeypatch):
    broken = tmp_path / "hubert_base.pt"
    broken.write_text("not a checkpoint")
    monkeypatch.setenv("RVC_EMBEDDER", str(broken))
    service.model_cache().clear()
    converter = service.Converter("tiny", service.ConvertParams(**PM_DETERMINISTIC), index=None)
    with pytest.raises(EmbedderError, match=str(broken)):
        converter.convert_file(SOURCE, tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()
