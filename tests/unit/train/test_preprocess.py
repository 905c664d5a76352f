"""Training preprocessing on real clips: pieces, levels, the dataset report, reruns and bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from rvc.audio import highpass_48hz, load_audio
from rvc.events import EventSink
from rvc.train.preprocess import (
    LEADS_OUT,
    MAX_PEAK,
    NORM_ALPHA,
    PEAK_TARGET,
    PIECE_S,
    TAIL_S,
    PreprocessError,
    audition_samples,
    cut_pieces,
    normalize_piece,
    preprocess,
    preprocessed_sample_rate,
)
from rvc.train.slicer import Slicer
from tests.conftest import PROJECT_ROOT

RATE = 40_000
LOWEST_PEAK = PEAK_TARGET * NORM_ALPHA  # a levelled piece peaks at 0.675 + 0.25 * its own peak


def make_dataset(folder: Path, clips: list[Path]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for clip in clips:
        shutil.copy(clip, folder / clip.name)
    return folder


def mtimes(folder: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in sorted(folder.glob("*.wav"))}


@pytest.fixture(scope="module")
def six_clips(data_dir) -> list[Path]:
    return sorted((data_dir / "voice_low").glob("*.flac"))[:6]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, six_clips) -> tuple[Path, dict, list[dict]]:
    """6 clips of voice_low preprocessed at 40k over 2 processes, with the events it wrote."""
    root = tmp_path_factory.mktemp("preprocess")
    dataset = make_dataset(root / "dataset", six_clips)
    events_file = root / "events.jsonl"
    with events_file.open("w") as stream:
        report = preprocess(root / "exp", dataset, "40k", 2, EventSink(stream, json_lines=True))
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    return root / "exp", report, events


def test_pieces_are_cut_to_3_7_s_with_the_tail_up_to_4_s(prepared):
    exp, report, _ = prepared
    pieces = sorted((exp / "0_gt_wavs").glob("*.wav"))
    assert len(pieces) == report["pieces"] > 0
    for piece in pieces:
        info = soundfile.info(str(piece))
        assert info.samplerate == RATE and info.channels == 1
        assert info.subtype == "FLOAT"  # float32 wav, as the original writes
        assert 0.5 <= info.frames / RATE <= TAIL_S


def test_every_piece_has_a_16k_copy_of_the_same_audio(prepared):
    exp, _, _ = prepared
    names = sorted(path.name for path in (exp / "0_gt_wavs").glob("*.wav"))
    assert names == sorted(path.name for path in (exp / "1_16k_wavs").glob("*.wav"))
    for name in names[:3]:
        full, rate = soundfile.read(exp / "0_gt_wavs" / name, dtype="float32")
        low, low_rate = soundfile.read(exp / "1_16k_wavs" / name, dtype="float32")
        assert (rate, low_rate) == (RATE, 16_000)
        assert abs(len(low) - len(full) * 16_000 / RATE) <= 1
        # Same signal: the 16 kHz copy's energy matches the full-band piece's (speech lies below 8 kHz).
        assert np.sqrt(np.mean(low**2)) == pytest.approx(np.sqrt(np.mean(full**2)), rel=0.05)


def test_pieces_are_the_sliced_cut_and_levelled_source(prepared, six_clips):
    """Redo the chain for the first clip by hand: decode at 40k, causal 48 Hz high-pass, slice, cut, level."""
    exp, _, _ = prepared
    source = highpass_48hz(load_audio(six_clips[0], RATE), RATE, zero_phase=False)
    pieces = [piece for part in Slicer(RATE).slice(source) for piece in cut_pieces(part, RATE)]
    written = sorted((exp / "0_gt_wavs").glob("0_*.wav"))
    assert [path.stem for path in written] == [f"0_{number}" for number in range(len(pieces))]
    for piece, path in zip(pieces, written, strict=True):
        audio = soundfile.read(path, dtype="float32")[0]
        np.testing.assert_allclose(audio, normalize_piece(piece), atol=1e-6)
        # the levelled peak is 0.675 + 0.25 * the piece's own peak
        assert np.abs(audio).max() == pytest.approx(LOWEST_PEAK + (1 - NORM_ALPHA) * np.abs(piece).max(), abs=1e-6)


def test_normalize_piece_formula_and_skips():
    piece = np.array([0.0, 0.5, -0.25], dtype=np.float32)
    levelled = normalize_piece(piece)
    assert levelled == pytest.approx(piece / 0.5 * 0.675 + 0.25 * piece)
    assert np.abs(levelled).max() == pytest.approx(0.675 + 0.25 * 0.5)
    assert normalize_piece(np.array([0.1, -(MAX_PEAK + 0.1)])) is None  # too loud: skipped as the original
    assert normalize_piece(np.zeros(100)) is None  # digital silence would divide by zero


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(10.0, [3.7, 3.7, 3.2]), (4.0, [4.0]), (4.1, [3.7, 0.7]), (2.0, [2.0]), (7.5, [3.7, 3.7, 0.7]), (7.4, [3.7, 4.0])],
)
def test_cut_pieces_steps_3_4_s_and_the_rest_becomes_the_last_piece(seconds, expected):
    audio = np.zeros(int(round(seconds * RATE)), dtype=np.float32)
    pieces = cut_pieces(audio, RATE)
    assert [round(len(piece) / RATE, 3) for piece in pieces] == expected
    assert all(len(piece) == int(PIECE_S * RATE) for piece in pieces[:-1])


def test_the_report_adds_up(prepared, six_clips):
    exp, report, _ = prepared
    assert json.loads((exp / "preprocess_report.json").read_text()) == report
    total = sum(soundfile.info(str(clip)).duration for clip in six_clips)
    assert report["clips"] == report["files"] == 6
    assert report["source_sample_rates"] == {"44100": 6}
    assert report["sample_rate"] == "40k"
    assert report["total_duration_s"] == pytest.approx(total, abs=0.01)
    assert 0 < report["usable_duration_s"] <= report["kept_duration_s"] <= report["total_duration_s"]
    assert report["silent_fraction"] == pytest.approx(1 - report["kept_duration_s"] / total, abs=1e-3)
    assert 0 <= report["clipped_fraction"] < 0.01
    assert report["too_short"] == report["unreadable"] == report["skipped_for_level"] == []
    assert (report["processed"], report["reused"]) == (6, 0)
    assert preprocessed_sample_rate(exp) == "40k"


def test_progress_is_reported_per_file(prepared):
    _, _, events = prepared
    progress = [event for event in events if event["type"] == "progress"]
    assert {event["stage"] for event in progress} == {"preprocess"}
    assert [event["done"] for event in progress] == list(range(7))
    assert all(event["total"] == 6 for event in progress)


def test_audition_samples_are_existing_pieces(prepared):
    exp, _, _ = prepared
    samples = audition_samples(exp, k=3, seed=1)
    assert len(samples) == 3 and len(set(samples)) == 3
    assert all(path.is_file() and path.parent.name == "0_gt_wavs" for path in samples)
    assert audition_samples(exp, k=3, seed=1) == samples
    assert len(audition_samples(exp, k=100)) == 6


def test_rerun_skips_done_files_and_a_new_clip_alone_is_processed(tmp_path, data_dir):
    clips = sorted((data_dir / "voice_low").glob("*.flac"))
    dataset = make_dataset(tmp_path / "dataset", clips[:2])
    exp = tmp_path / "exp"
    preprocess(exp, dataset, "40k")
    before = mtimes(exp / "0_gt_wavs")

    again = preprocess(exp, dataset, "40k")
    assert (again["processed"], again["reused"]) == (0, 2)
    assert mtimes(exp / "0_gt_wavs") == before

    make_dataset(dataset, [clips[2]])
    grown = preprocess(exp, dataset, "40k")
    assert (grown["processed"], grown["reused"], grown["clips"]) == (1, 2, 3)
    assert grown["processed_files"] == [clips[2].name]  # the report says what was added
    after = mtimes(exp / "0_gt_wavs")
    assert {name: after[name] for name in before} == before
    assert {name.split("_")[0] for name in set(after) - set(before)} == {"2"}  # the next file index


def test_a_changed_rate_redoes_everything_and_removes_old_pieces(tmp_path, six_clips):
    dataset = make_dataset(tmp_path / "dataset", six_clips[:2])
    exp = tmp_path / "exp"
    preprocess(exp, dataset, "40k")
    (exp / "0_gt_wavs" / "0_0.spec.pt").write_bytes(b"stale spectrogram cache")
    (exp / "0_gt_wavs" / "9_9.wav").write_bytes(b"left over from another run")
    report = preprocess(exp, dataset, "32k")
    assert report["processed"] == 2
    rates = {soundfile.info(str(path)).samplerate for path in (exp / "0_gt_wavs").glob("*.wav")}
    assert rates == {32_000}
    assert not (exp / "0_gt_wavs" / "0_0.spec.pt").exists()
    assert not (exp / "0_gt_wavs" / "9_9.wav").exists()


def test_one_long_recording_is_a_dataset(tmp_path, data_dir):
    audio, rate = soundfile.read(data_dir / "voice_high_long.flac", frames=20 * 44_100)
    recording = tmp_path / "long.wav"
    soundfile.write(recording, audio, rate)
    report = preprocess(tmp_path / "exp", recording, "48k")
    names = sorted(path.stem for path in (tmp_path / "exp" / "0_gt_wavs").glob("*.wav"))
    assert report["clips"] == 1 and report["pieces"] == len(names) >= 5
    assert {name.split("_")[0] for name in names} == {"0"}


def test_unreadable_and_too_short_files_are_reported_not_fatal(tmp_path, six_clips):
    dataset = make_dataset(tmp_path / "dataset", six_clips[:1])
    (dataset / "broken.flac").write_bytes(b"not audio at all")
    t = np.arange(int(0.3 * 44_100)) / 44_100
    soundfile.write(dataset / "blip.wav", 0.5 * np.sin(2 * np.pi * 200 * t), 44_100)
    square = np.sign(np.sin(2 * np.pi * 100 * np.arange(3 * 22_050) / 22_050))
    soundfile.write(dataset / "loud.wav", square, 22_050)
    report = preprocess(tmp_path / "exp", dataset, "40k")
    assert [entry["file"] for entry in report["unreadable"]] == ["broken.flac"]
    assert "broken.flac" in report["unreadable"][0]["error"]
    assert report["too_short"] == ["blip.wav"]
    assert report["clips"] == 3
    assert report["source_sample_rates"] == {"22050": 1, "44100": 2}
    assert report["clipped_fraction"] > 0.2  # the square wave sits at full scale


def linked_dataset(root: Path, clips: list[Path]) -> Path:
    """uploads/set/ in ``root``: a clip of its own, a real link to a clip outside the home (the secret), and a link
    to a clip elsewhere inside uploads/ (allowed: it stays in the roots)."""
    dataset = make_dataset(root / "home" / "uploads" / "set", clips[:1])
    outside = make_dataset(root / "outside", clips[1:2]) / clips[1].name
    shared = make_dataset(root / "home" / "uploads" / "shared", clips[2:3]) / clips[2].name
    os.symlink(outside, dataset / "stolen.flac")
    os.symlink(shared, dataset / "shared.flac")
    return dataset


def test_a_link_out_of_the_allowed_folders_is_left_out_and_never_read(tmp_path, six_clips):
    dataset = linked_dataset(tmp_path, six_clips)
    uploads = tmp_path / "home" / "uploads"
    events_file = tmp_path / "events.jsonl"
    with events_file.open("w") as stream:
        report = preprocess(tmp_path / "exp", dataset, "40k", sink=EventSink(stream, json_lines=True), roots=[uploads])
    assert report["left_out"] == [{"file": "stolen.flac", "reason": LEADS_OUT}]
    assert report["processed_files"] == [six_clips[0].name, "shared.flac"] and report["clips"] == 2
    warnings = [json.loads(line)["message"] for line in events_file.read_text().splitlines() if '"warning"' in line]
    assert warnings == [f"stolen.flac: {LEADS_OUT}"]
    # the control: unconfined (a command typed in a terminal), the link is a readable clip like the others
    assert preprocess(tmp_path / "free", dataset, "40k")["processed_files"] == sorted(p.name for p in dataset.iterdir())


def test_a_dataset_of_links_out_or_outside_itself_is_refused(tmp_path, six_clips):
    dataset = linked_dataset(tmp_path, six_clips)
    uploads = tmp_path / "home" / "uploads"
    only_out = uploads / "only-out"
    only_out.mkdir()
    os.symlink(dataset / "stolen.flac", only_out / "again.flac")  # a link to the link: still out
    with pytest.raises(PreprocessError, match=f"no readable audio \\(again.flac: {LEADS_OUT}\\)"):
        preprocess(tmp_path / "exp", only_out, "40k", roots=[uploads])
    os.symlink(tmp_path / "outside", uploads / "outlink")
    for outside in (uploads / "outlink", uploads / "outlink" / six_clips[1].name, uploads / "set" / "stolen.flac"):
        with pytest.raises(PreprocessError, match="outside the folders this server may read"):
            preprocess(tmp_path / "exp", outside, "40k", roots=[uploads])
    assert not list((tmp_path / "exp" / "0_gt_wavs").glob("*.wav"))


def test_the_step_command_confines_the_dataset_as_the_server_asks(tmp_path, six_clips):
    """`python -m rvc preprocess --confine-to=FOLDER -- EXP DATASET`, as the server's preprocess task runs it."""
    dataset = linked_dataset(tmp_path, six_clips)
    argv = [f"--confine-to={tmp_path / 'home' / 'uploads'}", "--", str(tmp_path / "exp"), str(dataset)]
    done = subprocess.run([sys.executable, "-m", "rvc", "preprocess", "--n-proc", "1", *argv], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["type"] == "result" and [e["file"] for e in result["data"]["left_out"]] == ["stolen.flac"]


def test_bad_datasets_raise_errors_naming_the_path(tmp_path):
    with pytest.raises(PreprocessError, match="no such file"):
        preprocess(tmp_path / "exp", tmp_path / "missing", "40k")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PreprocessError, match="holds no files"):
        preprocess(tmp_path / "exp", tmp_path / "empty", "40k")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello")
    with pytest.raises(PreprocessError, match="notes.txt"):
        preprocess(tmp_path / "exp", tmp_path / "junk", "40k")
    with pytest.raises(PreprocessError, match="sample rate"):
        preprocess(tmp_path / "exp", tmp_path / "junk", "44k")


def test_a_run_config_is_checked_and_copied(tmp_path, six_clips):
    dataset = make_dataset(tmp_path / "dataset", six_clips[:1])
    config = {"train": {"segment_size": 12800}, "data": {"sampling_rate": 40000}, "model": {},
              "discriminator": {"periods": [2, 3], "channel_divisor": 4}}
    (tmp_path / "run.json").write_text(json.dumps(config))
    preprocess(tmp_path / "exp", dataset, "40k", config_file=tmp_path / "run.json")
    assert json.loads((tmp_path / "exp" / "config.json").read_text()) == config
    with pytest.raises(PreprocessError, match="sampling_rate"):
        preprocess(tmp_path / "exp", dataset, "48k", config_file=tmp_path / "run.json")
