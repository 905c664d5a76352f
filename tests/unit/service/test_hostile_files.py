"""Files a client hands in or points at: uploads judged by content whatever their name, and the shared conversion
functions (model, index, folder of inputs) confined to the allowed roots while the process serves clients.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import faiss
import pytest
import torch

from rvc import service
from rvc.service.files import index_type, model_type
from tests.factories import tiny_pth
from tests.unit.service.conftest import write_wav

MODEL = tiny_pth("tiny_v2_f0_40k").read_bytes()


def index_bytes() -> bytes:
    return faiss.serialize_index(faiss.IndexFlatL2(768)).tobytes()


def legacy_torch_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(2)}, buffer, _use_new_zipfile_serialization=False)
    return buffer.getvalue()


def zip_bytes(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, b"x")
    return buffer.getvalue()


@pytest.mark.parametrize(("head", "kind"), [
    (MODEL[:32], "pytorch-zip"), (legacy_torch_bytes()[:32], "pytorch-pickle"), (b"\x80\x04\x95" + bytes(29), None),
    (b"MZ\x90\x00" + bytes(28), None), (b"RIFF" + bytes(28), None),
])
def test_model_type_reads_what_torch_save_writes(head: bytes, kind: str | None):
    assert model_type(head) == kind


@pytest.mark.parametrize(("head", "kind"), [
    (index_bytes()[:32], "faiss"),
    (faiss.serialize_index(faiss.index_factory(8, "IVF4,Flat")).tobytes()[:32], "faiss"),
    (b"IxF2" + bytes(28), None),  # the type code alone is not enough
    (b"an index, believe me, honestly", None), (index_bytes()[:20], None),
])
def test_index_type_reads_the_faiss_header(head: bytes, kind: str | None):
    assert index_type(head) == kind


@pytest.mark.parametrize(("name", "content", "media_type"), [
    ("voice.pth", MODEL, "pytorch-zip"),
    ("old.pth", legacy_torch_bytes(), "pytorch-pickle"),
    ("added_IVF4_Flat_v2.index", index_bytes(), "faiss"),
])
def test_models_and_indexes_are_stored_when_their_content_is_right(home: Path, name: str, content: bytes,
                                                                  media_type: str):
    stored = service.save_upload(name, [content[:1000], content[1000:]])
    assert stored["media_type"] == media_type and Path(stored["path"]).read_bytes() == content


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("archive.pth", zip_bytes("readme.txt"), "PyTorch"),  # a zip, but not one torch wrote
    ("plain.pth", b"\x80\x04\x95" + bytes(64), "PyTorch"),  # a pickle, but not torch's
    ("notes.index", b"an index, believe me" * 4, "faiss"),
    ("model.index", MODEL, "faiss"),
    ("song.wav", MODEL, "audio"),
    ("tune.mp3", b"\xff\xfb\x90\x64" + b"junk" * 200, "audio"),  # an MPEG frame header, then nothing that decodes
    ("silence.wav", b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40), "audio"),  # a WAV header and no sound
])
def test_content_that_is_not_what_the_name_claims_is_refused_and_removed(home: Path, name: str, content: bytes,
                                                                         expected: str):
    with pytest.raises(service.UnsupportedMedia, match=expected):
        service.save_upload(name, [content])
    assert list((home / "uploads").iterdir()) == []


def test_a_wrong_start_is_refused_before_the_rest_is_read(home: Path):
    received = []

    def chunks():
        for number in range(100):
            received.append(number)
            yield b"MZ" + bytes(1000)

    with pytest.raises(service.UnsupportedMedia, match="not audio"):
        service.save_upload("setup.mp3", chunks())
    assert len(received) == 1 and list((home / "uploads").iterdir()) == []


@pytest.fixture()
def outside(home: Path) -> Path:
    """Files outside the roots, and links to them from uploads/."""
    folder = home.parent / "outside"
    folder.mkdir()
    (folder / "voice.pth").write_bytes(MODEL)
    write_wav(folder / "clip.wav")
    os.symlink(folder / "clip.wav", home / "uploads" / "out.wav")
    os.symlink(folder / "gone.wav", home / "uploads" / "dangling.wav")
    os.symlink(folder, home / "uploads" / "outlink")
    write_wav(home / "uploads" / "in.wav")
    return folder


def test_browse_leaves_out_links_that_lead_out_of_the_roots(home: Path, outside: Path):
    listing = service.browse("uploads")
    assert [entry["name"] for entry in listing["entries"]] == ["in.wav"]


@pytest.fixture()
def serving(monkeypatch) -> None:
    monkeypatch.setattr("rvc.security._serving", True)


def test_a_serving_process_takes_model_paths_only_inside_the_roots(home: Path, outside: Path, serving):
    assert service.resolve_model("tiny") == home / "assets" / "weights" / "tiny.pth"
    assert service.resolve_model(str(home / "assets" / "weights" / "tiny.pth")).name == "tiny.pth"
    answers = []
    for model in (outside / "voice.pth", outside / "ghost.pth", "../outside/voice.pth", "uploads/outlink/voice.pth"):
        with pytest.raises(FileNotFoundError) as refused:
            service.resolve_model(str(model))
        answers.append(str(refused.value))
    assert answers[0].replace("voice", "ghost") == answers[1]  # the same whether the file outside exists or not


def test_a_serving_process_takes_index_paths_only_inside_the_roots(home: Path, outside: Path, serving):
    (outside / "added.index").write_bytes(index_bytes())
    model = home / "assets" / "weights" / "tiny.pth"
    for index in (outside / "added.index", outside / "missing.index"):
        with pytest.raises(service.PathNotAllowedError):
            service.resolve_index(str(index), model)


def test_a_script_still_reads_any_file_it_names(home: Path, outside: Path):
    assert service.resolve_model(str(outside / "voice.pth")) == outside / "voice.pth"
    assert [path.name for path in service.collect_inputs(home / "uploads")] == ["in.wav", "out.wav"]


def test_a_serving_process_leaves_links_out_of_a_folder_of_inputs(home: Path, outside: Path, serving):
    assert [path.name for path in service.collect_inputs(home / "uploads")] == ["in.wav"]


def test_the_job_runner_marks_the_process_as_serving(home: Path, jobs):
    import rvc.security

    assert rvc.security._serving
    service.stop_jobs()
    assert not rvc.security._serving


def test_an_upload_folder_must_be_a_real_folder_inside_uploads(home: Path, outside: Path):
    with pytest.raises(service.PathNotAllowedError, match="leads out of uploads"):
        service.save_upload("take.wav", [write_wav(home / "take.wav").read_bytes()], folder="outlink")
    with pytest.raises(service.Conflict, match="not a folder"):
        service.save_upload("take.wav", [(home / "take.wav").read_bytes()], folder="in.wav")
    assert sorted(path.name for path in outside.iterdir()) == ["clip.wav", "voice.pth"]
