"""Feature extraction for training with pm and a thin HuBERT: frame counts, filelist, mute files, reruns."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from rvc.f0 import coarse_f0
from rvc.train.extract import ExtractError, extract, parse_devices
from rvc.train.preprocess import preprocess
from rvc.weight_rule import rule_state_dict
from tests.conftest import load_reference_json
from tests.factories import write_small_embedder


@pytest.fixture(scope="module")
def embedder(tmp_path_factory) -> Path:
    return write_small_embedder(tmp_path_factory.mktemp("embedder") / "thin")


@pytest.fixture(scope="module")
def pieces(tmp_path_factory, data_dir) -> Path:
    """An experiment with the pieces of 3 voice_low clips at 40k (logs/<exp> inside a logs folder)."""
    logs = tmp_path_factory.mktemp("logs")
    dataset = logs.parent / "dataset"
    dataset.mkdir(exist_ok=True)
    for clip in sorted((data_dir / "voice_low").glob("*.flac"))[:3]:
        shutil.copy(clip, dataset / clip.name)
    preprocess(logs / "pieces", dataset, "40k")
    return logs / "pieces"


def copy_experiment(pieces: Path, name: str) -> Path:
    target = pieces.parent / name
    shutil.copytree(pieces, target)
    return target


@pytest.fixture(scope="module")
def v2(pieces, embedder) -> tuple[Path, dict]:
    exp = copy_experiment(pieces, "v2")
    return exp, extract(exp, "pm", "v2", "cpu", embedder_path=embedder, seed=0)


def names_of(exp: Path) -> list[str]:
    return sorted(path.stem for path in (exp / "1_16k_wavs").glob("*.wav"))


def test_frame_counts_line_up_as_the_trainer_needs(v2):
    """pm gives len // 160 pitch frames (100/s); HuBERT (len - 400) // 320 + 1 feature frames (50/s). The trainer
    repeats features 2x and cuts all to the shortest: the pitch must cover them, 0 to 3 frames to spare."""
    exp, result = v2
    assert result["f0"]["computed"] == result["features"]["computed"] == result["pieces"] == len(names_of(exp))
    for name in names_of(exp):
        samples = soundfile.info(str(exp / "1_16k_wavs" / f"{name}.wav")).frames
        coarse = np.load(exp / "2a_f0" / f"{name}.wav.npy")
        hertz = np.load(exp / "2b-f0nsf" / f"{name}.wav.npy")
        features = np.load(exp / "3_feature768" / f"{name}.npy")
        assert len(coarse) == len(hertz) == samples // 160
        assert features.shape == ((samples - 400) // 320 + 1, 768) and features.dtype == np.float32
        assert 0 <= len(hertz) - 2 * len(features) <= 3
        assert coarse.dtype == np.int64 and coarse.min() >= 1 and coarse.max() <= 255
        assert np.array_equal(coarse, coarse_f0(hertz))
        voiced = hertz[hertz > 0]
        assert hertz.dtype == np.float64 and len(voiced) > len(hertz) / 3  # speech: mostly voiced
        assert 50 <= voiced.min() and voiced.max() <= 1100


def test_the_filelist_lists_every_piece_and_two_mute_lines(v2):
    exp, result = v2
    lines = (exp / "filelist.txt").read_text().split("\n")
    assert len(lines) == result["filelist_lines"] == len(names_of(exp)) + 2
    rows = [line.split("|") for line in lines]
    assert all(len(row) == 5 and row[4] == "0" for row in rows)
    assert all(Path(path).is_absolute() and Path(path).is_file() for row in rows for path in row[:4])
    own = sorted(Path(row[0]).stem for row in rows if Path(row[0]).parent == exp / "0_gt_wavs")
    assert own == names_of(exp)
    for row in rows:
        stem = Path(row[0]).stem
        if not stem.startswith("mute"):
            assert row[1:4] == [str(exp / "3_feature768" / f"{stem}.npy"), str(exp / "2a_f0" / f"{stem}.wav.npy"),
                                str(exp / "2b-f0nsf" / f"{stem}.wav.npy")]
    mute = exp.parent / "mute"
    expected = [str(mute / "0_gt_wavs" / "mute40k.wav"), str(mute / "3_feature768" / "mute.npy"),
                str(mute / "2a_f0" / "mute.wav.npy"), str(mute / "2b-f0nsf" / "mute.wav.npy"), "0"]
    assert rows.count(expected) == 2


def test_the_mute_files_are_made_with_consistent_shapes(v2):
    exp, _ = v2
    mute = exp.parent / "mute"
    audio, rate = soundfile.read(mute / "0_gt_wavs" / "mute40k.wav", dtype="int16")
    assert rate == 40_000 and len(audio) == 3 * 40_000 and not audio.any()
    coarse, hertz = np.load(mute / "2a_f0" / "mute.wav.npy"), np.load(mute / "2b-f0nsf" / "mute.wav.npy")
    assert coarse.shape == hertz.shape == (301,)  # 3 s at 16 kHz: 48000 // 160 + 1, as the original's
    assert (coarse == 1).all() and (hertz == 0).all()
    features = np.load(mute / "3_feature768" / "mute.npy")
    assert features.shape == (149, 768) and features.dtype == np.float32 and np.isfinite(features).all()
    assert 2 * len(features) <= len(hertz)


def test_config_json_records_version_and_f0(v2):
    exp, result = v2
    config = json.loads((exp / "config.json").read_text())
    assert result["config"] == str(exp / "config.json")
    assert (config["version"], config["if_f0"], config["data"]["sampling_rate"]) == ("v2", 1, 40_000)
    assert {"train", "data", "model"} <= set(config)


def test_only_deleted_outputs_and_changed_pieces_are_recomputed(v2, embedder):
    exp, _ = v2
    first, second, *rest = names_of(exp)
    (exp / "3_feature768" / f"{first}.npy").unlink()
    (exp / "2b-f0nsf" / f"{first}.wav.npy").unlink()
    changed = exp / "1_16k_wavs" / f"{second}.wav"
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 1_000_000_000))
    untouched = {path: path.stat().st_mtime_ns for name in rest for path in (exp / "3_feature768").glob(f"{name}.*")}
    result = extract(exp, "pm", "v2", "cpu", embedder_path=embedder, seed=0)
    assert (result["f0"]["computed"], result["features"]["computed"]) == (2, 2)
    assert result["features"]["reused"] == len(rest)
    assert (exp / "3_feature768" / f"{first}.npy").is_file()
    assert {path: path.stat().st_mtime_ns for path in untouched} == untouched


def test_v1_without_f0(pieces, embedder):
    exp = copy_experiment(pieces, "v1")
    result = extract(exp, None, "v1", "cpu", embedder_path=embedder, seed=3, speaker_id=2)
    assert result["f0"] is None and not (exp / "2a_f0").exists()
    features = np.load(exp / "3_feature256" / f"{names_of(exp)[0]}.npy")
    assert features.shape[1] == 256
    rows = [line.split("|") for line in (exp / "filelist.txt").read_text().split("\n")]
    assert all(len(row) == 3 and row[2] == "2" and Path(row[1]).is_file() for row in rows)
    assert np.load(exp.parent / "mute" / "3_feature256" / "mute.npy").shape == (149, 256)
    config = json.loads((exp / "config.json").read_text())
    assert (config["version"], config["if_f0"]) == ("v1", 0)


def test_a_changed_embedder_recomputes_the_features_only(v2, embedder):
    exp, _ = v2
    weights = embedder / "model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # as if replaced by other weights
    result = extract(exp, "pm", "v2", "cpu", embedder_path=embedder, seed=0)
    assert result["features"]["computed"] == len(names_of(exp))
    assert result["f0"]["computed"] == 0


def test_bad_requests_are_refused(tmp_path, v2, embedder):
    exp, _ = v2
    with pytest.raises(ExtractError, match="preprocess"):
        extract(tmp_path / "empty", "pm", "v2", "cpu", embedder_path=embedder)
    with pytest.raises(ExtractError, match="f0 method"):
        extract(exp, "yin", "v2", "cpu", embedder_path=embedder)
    with pytest.raises(ValueError, match="version"):
        extract(exp, "pm", "v1", "cpu", embedder_path=embedder)  # config.json records v2
    with pytest.raises(ExtractError, match="made at 40k"):
        extract(exp, "pm", "v2", "cpu", embedder_path=embedder, sample_rate="48k")


def test_worker_threads_write_what_one_worker_writes(pieces, embedder):
    """Two CPU workers (threads of one torch thread each, sharing the models) against one: the same pitch, the
    same features up to float rounding (the thread count changes the order of sums), and torch's thread count
    is restored afterwards."""
    threads = torch.get_num_threads()
    one, two = copy_experiment(pieces, "one_worker"), copy_experiment(pieces, "two_workers")
    extract(one, "dio", "v2", "cpu", embedder_path=embedder, n_proc=1, seed=0)
    result = extract(two, "dio", "v2", "cpu", embedder_path=embedder, n_proc=2, seed=0)
    assert torch.get_num_threads() == threads
    assert result["f0"]["computed"] == result["features"]["computed"] == len(names_of(one)) > 2
    for name in names_of(one):
        for folder in ("2a_f0", "2b-f0nsf"):
            np.testing.assert_array_equal(np.load(two / folder / f"{name}.wav.npy"),
                                          np.load(one / folder / f"{name}.wav.npy"))
        np.testing.assert_allclose(np.load(two / "3_feature768" / f"{name}.npy"),
                                   np.load(one / "3_feature768" / f"{name}.npy"), rtol=1e-4, atol=1e-5)


def test_parse_devices(monkeypatch):
    import torch

    assert parse_devices("cpu", 2) == ["cpu", "cpu"]
    assert parse_devices("auto", 2) == ["cpu", "cpu"]  # no GPU on this machine
    with pytest.raises(ExtractError, match=r"GPU 0 is not available \(0 CUDA device\(s\) here\)"):
        parse_devices("0")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    assert parse_devices("0-1") == ["cuda:0", "cuda:1"]
    assert parse_devices("0,2") == ["cuda:0", "cuda:2"]
    assert parse_devices("auto") == ["cuda:0", "cuda:1", "cuda:2"]
    with pytest.raises(ExtractError):
        parse_devices("gpu0")


@pytest.mark.slow
def test_rmvpe_pitch_from_a_given_model_file(pieces, embedder, tmp_path):
    """rmvpe (the reference's rule weights saved like the shipped fp16 rmvpe.pt) on one piece: len // 160 + 1
    frames, one more than pm, still within the 0..3 frames the trainer can spare."""
    manifest = load_reference_json("rmvpe_manifest.json")
    state = rule_state_dict(manifest["keys"], manifest["seed"], manifest["scale"])
    model = tmp_path / "rmvpe.pt"
    torch.save({key: value.half() if value.is_floating_point() else value for key, value in state.items()}, model)
    exp = copy_experiment(pieces, "rmvpe")
    for extra in names_of(exp)[1:]:
        (exp / "0_gt_wavs" / f"{extra}.wav").unlink()
        (exp / "1_16k_wavs" / f"{extra}.wav").unlink()
    result = extract(exp, "rmvpe", "v2", "cpu", embedder_path=embedder, rmvpe_path=model, seed=0)
    assert result["f0"]["computed"] == 1
    (name,) = names_of(exp)
    samples = soundfile.info(str(exp / "1_16k_wavs" / f"{name}.wav")).frames
    hertz = np.load(exp / "2b-f0nsf" / f"{name}.wav.npy")
    assert len(hertz) == samples // 160 + 1
    assert 0 <= len(hertz) - 2 * len(np.load(exp / "3_feature768" / f"{name}.npy")) <= 3
    record = json.loads((exp / "steps" / "extract_f0.json").read_text())
    assert record["params"]["model"]["path"] == str(model.resolve())
