"""Uploads (limit counted while streaming, type by content, safe names) and browsing inside the allowed roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from rvc import service
from tests.unit.service.conftest import write_settings, write_wav

WAV_HEAD = b"RIFF\x24\x00\x00\x00WAVEfmt "


@pytest.mark.parametrize(("head", "kind"), [
    (WAV_HEAD, "wav"),
    (b"fLaC\x00\x00\x00\x22" + bytes(4), "flac"),
    (b"ID3\x04\x00\x00" + bytes(6), "mpeg"),
    (b"\xff\xfb\x90\x64" + bytes(8), "mpeg"),
    (b"OggS\x00\x02" + bytes(6), "ogg"),
    (b"\x00\x00\x00\x20ftypM4A ", "mp4"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81", "matroska"),
    (b"FORM\x00\x00\x00\x10AIFF", "aiff"),
    (b"hello, I am text", None),
    (b"PK\x03\x04" + bytes(8), None),
    (b"", None),
])
def test_media_type_reads_the_first_bytes(head: bytes, kind: str | None):
    assert service.media_type(head[:12]) == kind


@pytest.mark.parametrize(("name", "safe"), [
    ("song.wav", "song.wav"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\me\\voice take 1.flac", "voice take 1.flac"),
    (".hidden.wav", "hidden.wav"),
    ("a/b/..", "upload"),
    ("歌声.wav", "歌声.wav"),
    ("x;rm -rf *.wav", "x_rm -rf _.wav"),
    ("", "upload"),
])
def test_safe_name_keeps_one_harmless_file_name(name: str, safe: str):
    assert service.safe_name(name) == safe


def test_upload_is_stored_under_its_sanitised_name_and_numbered_when_taken(home: Path):
    content = write_wav(home / "source.wav").read_bytes()
    first = service.save_upload("../evil/take.wav", [content[:100], content[100:]])
    second = service.save_upload("take.wav", [content])
    assert first == {"path": str(home / "uploads" / "take.wav"), "name": "take.wav", "size_bytes": len(content),
                     "media_type": "wav", "files": None}
    assert second["name"] == "take (1).wav"
    assert Path(second["path"]).read_bytes() == content
    grouped = service.save_upload("take.wav", [content], folder="../my set")
    assert grouped["path"] == str(home / "uploads" / "my set" / "take.wav")


def test_the_limit_is_counted_while_the_bytes_arrive(home: Path):
    received = []

    def chunks():
        for number in range(100):
            received.append(number)
            yield WAV_HEAD if number == 0 else bytes(1000)

    with pytest.raises(service.TooLarge, match="limit of 0 MB"):
        service.save_upload("big.wav", chunks(), limit_bytes=5000)
    assert len(received) == 6  # stopped at the first chunk past the limit, not after reading everything
    assert list((home / "uploads").iterdir()) == []


def test_the_limit_defaults_to_the_setting(home: Path):
    write_settings(home, upload_limit_mb=1)
    assert service.upload_limit_bytes() == 2**20
    with pytest.raises(service.TooLarge):
        service.save_upload("big.wav", [WAV_HEAD, bytes(2**20)])


def test_text_named_like_audio_is_refused_and_leaves_nothing(home: Path):
    with pytest.raises(service.UnsupportedMedia, match="not audio"):
        service.save_upload("notes.wav", [b"just some text, not a RIFF file"])
    assert list((home / "uploads").iterdir()) == []


def test_browse_lists_a_folder_inside_the_roots(home: Path):
    write_wav(home / "uploads" / "b.wav")
    (home / "uploads" / "a folder").mkdir()
    (home / "uploads" / ".partial").write_text("")
    listing = service.browse(str(home / "uploads"))
    assert listing["path"] == str(home / "uploads") and listing["total"] == 2
    assert [(e["name"], e["is_dir"]) for e in listing["entries"]] == [("a folder", True), ("b.wav", False)]
    assert listing["entries"][1]["size_bytes"] > 0
    assert service.browse("uploads", limit=1, offset=1)["entries"][0]["name"] == "b.wav"


def test_browse_without_a_path_lists_the_roots(home: Path):
    roots = [entry["path"] for entry in service.browse()["entries"]]
    assert str(home / "uploads") in roots and str(home / "assets") in roots


@pytest.mark.parametrize("path", ["/etc", "uploads/../../", "../outside"])
def test_browse_refuses_paths_outside_the_roots(home: Path, path: str):
    (home.parent / "outside").mkdir(exist_ok=True)
    with pytest.raises(service.PathNotAllowedError):
        service.browse(path)


def test_browse_of_a_file_is_a_parameter_error(home: Path):
    write_wav(home / "uploads" / "b.wav")
    with pytest.raises(ValueError, match="not a folder"):
        service.browse("uploads/b.wav")


def _zip(path: Path, members: dict[str, bytes]) -> bytes:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path.read_bytes()


def test_a_zip_of_clips_becomes_a_dataset_folder(home: Path, tmp_path: Path):
    clip = write_wav(tmp_path / "clip.wav").read_bytes()
    data = _zip(tmp_path / "set.zip", {"voice/a.wav": clip, "voice/b.WAV": clip, "notes.txt": b"hi",
                                       "__MACOSX/._a.wav": b"junk"})
    stored = service.save_upload("my set.zip", [data], folder="datasets")
    folder = home / "uploads" / "datasets" / "my set"
    assert stored == {"path": str(folder), "name": "my set", "size_bytes": 2 * len(clip), "media_type": "zip",
                      "files": 2}
    assert sorted(path.name for path in folder.iterdir()) == ["a.wav", "b.WAV"]
    assert service.save_upload("my set.zip", [data], folder="datasets")["name"] == "my set (1)"
    assert not list((home / "uploads" / "datasets").glob(".upload-*"))  # the zip itself is not kept


@pytest.mark.parametrize(("members", "error", "message"), [
    ({"notes.txt": b"hi"}, service.UnsupportedMedia, "holds no audio"),
    ({"../evil.wav": b"RIFF"}, ValueError, "unsafe member"),
    ({"a.wav": bytes(600_000)}, service.TooLarge, "unpacks to 0 MB, more than the limit"),  # a small zip bomb
])
def test_a_bad_zip_leaves_nothing(home: Path, tmp_path: Path, members: dict, error: type, message: str):
    data = _zip(tmp_path / "bad.zip", members)
    with pytest.raises(error, match=message):
        service.save_upload("bad.zip", [data], limit_bytes=5000)
    assert list((home / "uploads").iterdir()) == []
