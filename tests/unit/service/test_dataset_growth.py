"""A dataset grows from the Train tab: more uploads go beside the first ones, and preprocessing runs again."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest

from rvc import service
from tabs import train
from tests.unit.service.conftest import write_wav


def test_uploading_more_recordings_adds_them_to_the_experiments_folder(home: Path, jobs, tmp_path: Path):
    first = [str(write_wav(tmp_path / name)) for name in ("a.wav", "b.wav")]
    list(train.preprocess("voice", "40k", "v2", True, first, "", None, ""))
    training = train.find_training("voice")
    folder = home / "uploads" / "dataset-voice"
    assert Path(training["dataset_path"]) == folder

    more = [str(write_wav(tmp_path / "c.wav"))]
    list(train.preprocess("voice", "40k", "v2", True, more, "", None, ""))
    assert sorted(path.name for path in folder.iterdir()) == ["a.wav", "b.wav", "c.wav"]
    assert service.list_tasks("preprocess")["total"] == 2 and service.list_trainings()["total"] == 1


def test_a_single_upload_is_a_folder_that_can_grow(home: Path, jobs, tmp_path: Path):
    list(train.preprocess("solo", "40k", "v2", True, [str(write_wav(tmp_path / "long.wav"))], "", None, ""))
    assert Path(train.find_training("solo")["dataset_path"]) == home / "uploads" / "dataset-solo"


def test_a_server_folder_dataset_is_not_written_to(home: Path, jobs, tmp_path: Path):
    server_folder = home / "uploads" / "voices" / "alice"
    write_wav(server_folder / "a.wav")
    list(train.preprocess("alice", "40k", "v2", True, None, str(server_folder), None, ""))
    with pytest.raises(gr.Error, match="put the new recordings there on the server"):
        list(train.preprocess("alice", "40k", "v2", True, [str(write_wav(tmp_path / "b.wav"))], "", None, ""))
    assert sorted(path.name for path in server_folder.iterdir()) == ["a.wav"]
