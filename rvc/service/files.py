"""Files clients send and look at: uploads into uploads/, and browsing inside the allowed roots.

An upload is counted while it streams and stopped as soon as it passes the limit (`upload_limit_mb`), so a
client cannot fill the disk or the memory with one request. Its name only says what it claims to be (a `.pth`
model, an `.index`, or else audio/video); the content must be that: its first bytes are judged as they arrive
and the whole file once received (a PyTorch zip holds `data.pkl` and no file declares more than it holds, an
index's whole layout fits its size, media decodes with PyAV), and anything else
is refused and removed. The name is reduced to a plain file name before it is used.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import av

from rvc.config import get_paths
from rvc.f0 import load_f0_curve
from rvc.infer.converter import MEDIA_SUFFIXES
from rvc.jobs import Owner
from rvc.retrieval import IndexLayoutError, read_layout
from rvc.security import PathNotAllowedError, allowed_roots, is_allowed, resolve_allowed
from rvc.service.archives import Budget, unpack
from rvc.service.errors import Conflict, NotFound, TooLarge, UnsupportedMedia
from rvc.service.pages import paginate
from rvc.settings import load_settings
from rvc.torch_bounds import DeclaredSizeError, check_declared_sizes

SNIFF_BYTES = 32  # enough for every header judged here (a faiss header is the longest)
MAX_NAME_CHARS = 120
GUESTS_FOLDER = "guests"  # uploads/guests/<who>/: each guest's own uploads
MODEL_SUFFIXES = (".pth", ".pt")
INDEX_SUFFIX = ".index"
CURVE_SUFFIXES = (".txt", ".csv")
ZIP_SUFFIX = ".zip"
CLIP_SUFFIXES = tuple(sorted(MEDIA_SUFFIXES))  # the members of a dataset zip that are kept
_CURVE_TEXT = re.compile(rb"^[0-9eE+\-., \t\r\n]*$")
MEDIA_TYPES = "WAV, FLAC, MP3, OGG, M4A/MP4, MKV/WebM"
_UNSAFE_CHARS = re.compile(r"[^\w.\- ()\[\]]")
_ASF = bytes.fromhex("3026b2758e66cf11")
_ZIP = b"PK\x03\x04"
_TORCH_PICKLE = bytes.fromhex("80028a0a6cfc9c46f9206aa85019")  # pickle protocol 2, then torch's magic number
_FAISS_DUMMIES = struct.pack("<qq", 1 << 20, 1 << 20)  # two fixed int64 after the type, width and count


def client_path(path: str | os.PathLike) -> Path:
    """A path sent by a browser or API client, confined to the allowed roots (`rvc.security`)."""
    return resolve_allowed(path)


def media_type(head: bytes) -> str | None:
    """The container of audio/video content from its first `SNIFF_BYTES` bytes, or None for anything else."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mpeg"  # MP3 with a tag, or an MPEG audio / ADTS AAC frame
    if head[:4] == b"OggS":
        return "ogg"
    if head[4:8] == b"ftyp":
        return "mp4"  # m4a, mp4, mov
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"  # mkv, webm
    if head[:8] == _ASF:
        return "asf"  # wma, wmv
    return None


def model_type(head: bytes) -> str | None:
    """"pytorch-zip" or "pytorch-pickle" for what `torch.save` writes (judged further once whole), else None."""
    if head.startswith(_ZIP):
        return "pytorch-zip"
    return "pytorch-pickle" if head.startswith(_TORCH_PICKLE) else None


def index_type(head: bytes) -> str | None:
    """"faiss" for the header `faiss.write_index` writes: a four-byte type code "I...", the width, the count,
    then two fixed numbers; else None.
    """
    if len(head) < 32 or head[:1] != b"I" or not head[:4].isalnum():
        return None
    width, count = struct.unpack("<iq", head[4:16])
    return "faiss" if width > 0 and count >= 0 and head[16:32] == _FAISS_DUMMIES else None


def zip_type(head: bytes) -> str | None:
    """"zip" for a zip archive (a dataset of clips, unpacked once stored)."""
    return "zip" if head.startswith((b"PK\x03\x04", b"PK\x05\x06")) else None


def curve_type(head: bytes) -> str | None:
    """"f0-curve" for text of numbers (a pitch curve's ``time_seconds, hz`` lines, judged whole once stored)."""
    return "f0-curve" if _CURVE_TEXT.match(head) else None


# What a name claims: how the first bytes are judged, and what the content must be (for the refusal's message).
_CLAIMS = {
    "model": (model_type, "a PyTorch model (what torch.save writes: a zip with data.pkl, or a torch pickle)"),
    "index": (index_type, "a faiss index (what faiss.write_index writes)"),
    "media": (media_type, f"audio or video with a sound track ({MEDIA_TYPES})"),
    "curve": (curve_type, "a pitch curve (one 'time_seconds, hz' pair per line)"),
    "zip": (zip_type, f"a zip of audio clips ({MEDIA_TYPES})"),
}


def safe_name(name: str, default: str = "upload") -> str:
    """``name`` as one harmless file name: the last path part (either slash), odd characters replaced, no
    leading dots, at most `MAX_NAME_CHARS` characters (keeping the suffix).
    """
    base = PurePosixPath(name.replace("\\", "/")).name
    base = _UNSAFE_CHARS.sub("_", base).lstrip(". ").rstrip(" ")
    if len(base) > MAX_NAME_CHARS:
        stem, suffix = os.path.splitext(base)
        base = stem[: MAX_NAME_CHARS - len(suffix[:20])] + suffix[:20]
    return base or default


def upload_limit_bytes() -> int:
    return load_settings().upload_limit_mb * 2**20


def is_guest(owner: Owner | None) -> bool:
    """Whether ``owner`` is restricted to its own files (None: a server without logins, where all is the user's)."""
    return owner is not None and not owner.sees_all


def owner_uploads(owner: Owner | None) -> Path:
    """Where ``owner``'s uploads go: uploads/ itself for an admin (and on a server without logins), else the guest's
    own folder, uploads/guests/user-<name>, or uploads/guests/token for the guest token (which names a role, not a
    person). A guest converts only what is in its folder, and numbering a taken name tells it nothing of others'.
    """
    uploads = get_paths().uploads
    if not is_guest(owner):
        return uploads
    return uploads / GUESTS_FOLDER / (f"user-{safe_name(owner.user)}" if owner.user else "token")


def upload_folder(name: str | None = None, owner: Owner | None = None) -> Path:
    """``owner``'s upload folder (`owner_uploads`), or its sub-folder ``name`` (reduced to a plain name), created
    when missing; it must be a real folder inside uploads/ and not a link out of it.
    """
    uploads, base = get_paths().uploads, owner_uploads(owner)
    folder = base / safe_name(name) if name else base
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise Conflict(f"uploads/{folder.name} exists and is not a folder: choose another folder name") from None
    if not Path(os.path.realpath(folder)).is_relative_to(os.path.realpath(uploads)):
        raise PathNotAllowedError(f"uploads/{folder.name} leads out of uploads/")
    return folder


class UploadWriter:
    """One upload being received: `write` each chunk as it arrives (TooLarge past the limit, UnsupportedMedia as
    soon as the first bytes are not what the name claims), then `finish`.

    Bytes go to a hidden temporary file in the destination folder, so a failed or refused upload leaves nothing
    and a finished one appears complete, under its sanitised name (numbered if the name is taken).
    """

    def __init__(
        self, filename: str, limit_bytes: int | None = None, folder: str | None = None, owner: Owner | None = None
    ) -> None:
        self.name = safe_name(filename)
        suffix = os.path.splitext(self.name)[1].lower()
        self.claimed = ("model" if suffix in MODEL_SUFFIXES else "index" if suffix == INDEX_SUFFIX
                        else "curve" if suffix in CURVE_SUFFIXES else "zip" if suffix == ZIP_SUFFIX else "media")
        self.limit_bytes = upload_limit_bytes() if limit_bytes is None else limit_bytes
        self.folder = upload_folder(folder, owner)
        handle, temporary = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=self.folder)
        self._file = os.fdopen(handle, "wb")
        self._temporary = Path(temporary)
        self.size_bytes = 0
        self._head = b""
        self._type: str | None = None

    def write(self, chunk: bytes) -> None:
        self.size_bytes += len(chunk)
        if self.size_bytes > self.limit_bytes:
            self.abort()
            raise TooLarge(f"the upload is larger than the limit of {self.limit_bytes // 2**20} MB")
        if self._type is None:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]
            if len(self._head) == SNIFF_BYTES:
                self._type = self._judge_head()
        self._file.write(chunk)

    def finish(self) -> dict[str, Any]:
        """Check the whole content and store the file; returns its path, name, size and content type."""
        self._file.close()
        kind = self._type or self._judge_head()
        if kind == "zip":
            return self._unpack_clips()
        self._judge_whole(kind)
        target = self._claim_name()
        os.replace(self._temporary, target)
        return {"path": str(target), "name": target.name, "size_bytes": self.size_bytes, "media_type": kind,
                "files": None}

    def abort(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)

    def _judge_head(self) -> str:
        """The content type the first bytes show, if it is what the name claims (else refused)."""
        kind = _CLAIMS[self.claimed][0](self._head)
        if kind is None:
            self._refuse()
        return kind

    def _judge_whole(self, kind: str) -> None:
        """What only the whole file shows: a torch zip holds `<name>/data.pkl` and a torch file declares no more
        than it holds; an index's layout fits its size; media has a decodable audio stream."""
        if self.claimed == "model" and (problem := _model_problem(self._temporary)):
            self._refuse(problem)  # first: listing a zip's directory costs memory by its declared size
        if kind == "pytorch-zip" and not _torch_zip(self._temporary):
            self._refuse()
        if self.claimed == "index" and (problem := _index_problem(self._temporary)):
            self._refuse(problem)
        if self.claimed == "media" and not _decodable_audio(self._temporary):
            self._refuse()
        if self.claimed == "curve" and not _readable_curve(self._temporary):
            self._refuse()

    def _refuse(self, problem: str | None = None) -> None:
        """Remove the upload and say why: the ``problem`` found in it, or that its content is not what it claims."""
        self.abort()
        reason = problem or "the content decides, not the name"
        raise UnsupportedMedia(f"{self.name!r} is not {_CLAIMS[self.claimed][1]}: {reason}")

    def _unpack_clips(self) -> dict[str, Any]:
        """A zip of clips becomes a folder of them, `uploads/[folder/]<zip name>/` (numbered if taken): a dataset.
        The unpacked size counts against the upload limit; a zip without audio is refused."""
        stem = os.path.splitext(self.name)[0]
        number = 0
        while True:
            target = self.folder / (stem if number == 0 else f"{stem} ({number})")
            try:
                target.mkdir()
                break
            except FileExistsError:
                number += 1
        try:
            clips = unpack(self._temporary, target, Budget(self.limit_bytes, "the unpacked zip"), CLIP_SUFFIXES)
            if not clips:
                raise UnsupportedMedia(f"{self.name!r} holds no audio files ({MEDIA_TYPES})")
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        finally:
            self._temporary.unlink(missing_ok=True)
        return {"path": str(target), "name": target.name, "size_bytes": sum(clip.stat().st_size for clip in clips),
                "media_type": "zip", "files": len(clips)}

    def _claim_name(self) -> Path:
        """The first free name among `name`, `name (1)`, `name (2)`... created empty, so no two uploads race."""
        stem, suffix = os.path.splitext(self.name)
        number = 0
        while True:
            candidate = self.folder / (self.name if number == 0 else f"{stem} ({number}){suffix}")
            try:
                os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            except FileExistsError:
                number += 1
                continue
            return candidate

    def __enter__(self) -> UploadWriter:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *rest: object) -> None:
        if error_type is not None:
            self.abort()


def _torch_zip(path: Path) -> bool:
    """A zip as `torch.save` writes it: one folder holding `data.pkl` (the pickle of the tensors' layout)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(PurePosixPath(name).parts[1:] == ("data.pkl",) for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _model_problem(path: Path) -> str | None:
    """What makes a torch file declare more than it holds (`rvc.torch_bounds`), if anything."""
    try:
        check_declared_sizes(path)
    except DeclaredSizeError as error:
        return str(error)
    return None


def _index_problem(path: Path) -> str | None:
    """What keeps a faiss index's layout from fitting its file (`rvc.retrieval.layout`), if anything."""
    try:
        read_layout(path)
    except IndexLayoutError as error:
        return str(error)
    return None


def _readable_curve(path: Path) -> bool:
    try:
        load_f0_curve(path)
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def _decodable_audio(path: Path) -> bool:
    """Whether PyAV opens the file and decodes a first frame of sound from it."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                return False
            return next(container.decode(audio=0), None) is not None
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        return False


def save_upload(
    filename: str, stream: Iterable[bytes], limit_bytes: int | None = None, folder: str | None = None,
    owner: Owner | None = None,
) -> dict[str, Any]:
    """Store the chunks of ``stream`` as `<owner's uploads>/[folder/]<filename>` (see `UploadWriter`)."""
    with UploadWriter(filename, limit_bytes, folder, owner) as writer:
        for chunk in stream:
            writer.write(chunk)
        return writer.finish()


def uploaded_file(file_id: str) -> Path:
    """The upload ``file_id`` names: the path POST /system/upload answered, or a name under uploads/ (`NotFound`
    when there is no such file, so a client can tell a typo from a refused path)."""
    text = file_id.strip()
    missing = NotFound(f"no uploaded file {file_id!r}: upload it with POST /system/upload first")
    try:
        path = client_path(text if "/" in text else f"{get_paths().uploads.name}/{text}")
    except FileNotFoundError:
        raise missing from None
    if not path.is_file():
        raise missing
    return path


def own_upload(path: str, owner: Owner) -> Path:
    """A file of ``owner``'s uploads (`owner_uploads`). Anything else (another's upload, a server file, a missing
    one) is the same `NotFound`, so a guest learns nothing about files that are not its own.
    """
    missing = NotFound(f"no upload of yours at {path!r}: upload the file first")
    try:
        resolved = client_path(path)
    except (PathNotAllowedError, FileNotFoundError):
        raise missing from None
    if not resolved.is_relative_to(os.path.realpath(owner_uploads(owner))) or not resolved.is_file():
        raise missing
    return resolved


def browse(path: str | None = None, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
    """The entries of a folder inside the allowed roots (folders first, hidden ones left out); without a path,
    the allowed roots themselves.
    """
    if not path:
        roots = [root for root in allowed_roots() if root.is_dir()]
        entries = [{"name": str(root), "path": str(root), "is_dir": True, "size_bytes": None,
                    "modified": root.stat().st_mtime} for root in roots]
        return _listing(None, entries, limit, offset)
    folder = client_path(path)
    if not folder.is_dir():
        raise ValueError(f"{path!r} is not a folder")
    visible = (child for child in folder.iterdir() if not child.name.startswith(".") and _inside(child))
    children = sorted(visible, key=lambda child: (not child.is_dir(), child.name))
    entries = [_entry(child) for child in children]
    return _listing(str(folder), entries, limit, offset)


def _entry(child: Path) -> dict[str, Any]:
    stat = child.stat()
    return {"name": child.name, "path": str(child), "is_dir": child.is_dir(),
            "size_bytes": stat.st_size if child.is_file() else None, "modified": stat.st_mtime}


def _inside(child: Path) -> bool:
    """Whether a folder entry stays inside the roots (a link out is left out, whether its target exists or not)."""
    return is_allowed(Path(os.path.realpath(child)))


def _listing(path: str | None, entries: list[dict[str, Any]], limit: int | None, offset: int) -> dict[str, Any]:
    window = paginate(entries, limit, offset)
    return {"path": path, "entries": window.pop("items"), **window}
