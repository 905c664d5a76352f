"""Files clients send and look at: uploads into uploads/, and browsing inside the allowed roots.

An upload is counted while it streams and stopped as soon as it passes the limit (`upload_limit_mb`), so a
client cannot fill the disk or the memory with one request; its type is judged by its first bytes, not by the
name the client gave, and that name is reduced to a plain file name before it is used.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from rvc.config import get_paths
from rvc.security import allowed_roots
from rvc.service.conversion import client_path
from rvc.service.errors import TooLarge, UnsupportedMedia
from rvc.service.pages import paginate
from rvc.settings import load_settings

SNIFF_BYTES = 12
MAX_NAME_CHARS = 120
_UNSAFE_CHARS = re.compile(r"[^\w.\- ()\[\]]")
_ASF = bytes.fromhex("3026b2758e66cf11")


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


class UploadWriter:
    """One upload being received: `write` each chunk as it arrives (TooLarge past the limit), then `finish`.

    Bytes go to a hidden temporary file in the destination folder, so a failed or refused upload leaves nothing
    and a finished one appears complete, under its sanitised name (numbered if the name is taken).
    """

    def __init__(self, filename: str, limit_bytes: int | None = None, folder: str | None = None) -> None:
        self.name = safe_name(filename)
        self.limit_bytes = upload_limit_bytes() if limit_bytes is None else limit_bytes
        self.folder = get_paths().uploads / safe_name(folder) if folder else get_paths().uploads
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=self.folder)
        self._file = os.fdopen(handle, "wb")
        self._temporary = Path(temporary)
        self.size_bytes = 0
        self._head = b""

    def write(self, chunk: bytes) -> None:
        self.size_bytes += len(chunk)
        if self.size_bytes > self.limit_bytes:
            self.abort()
            raise TooLarge(f"the upload is larger than the limit of {self.limit_bytes // 2**20} MB")
        if len(self._head) < SNIFF_BYTES:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]
        self._file.write(chunk)

    def finish(self) -> dict[str, Any]:
        """Check the content's type and store the file; returns its path, name, size and media type."""
        self._file.close()
        kind = media_type(self._head)
        if kind is None:
            self.abort()
            raise UnsupportedMedia(f"{self.name!r} is not audio or video (WAV, FLAC, MP3, OGG, M4A/MP4, MKV/WebM)")
        target = self._claim_name()
        os.replace(self._temporary, target)
        return {"path": str(target), "name": target.name, "size_bytes": self.size_bytes, "media_type": kind}

    def abort(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)

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


def save_upload(
    filename: str, stream: Iterable[bytes], limit_bytes: int | None = None, folder: str | None = None
) -> dict[str, Any]:
    """Store the chunks of ``stream`` as `uploads/[folder/]<filename>` (see `UploadWriter`)."""
    with UploadWriter(filename, limit_bytes, folder) as writer:
        for chunk in stream:
            writer.write(chunk)
        return writer.finish()


def browse(path: str | None = None, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
    """The entries of a folder inside the allowed roots (folders first, hidden ones left out); without a path,
    the allowed roots themselves.
    """
    if not path:
        roots = [root for root in allowed_roots() if root.is_dir()]
        entries = [{"name": str(root), "path": str(root), "is_dir": True, "size_bytes": None} for root in roots]
        return _listing(None, entries, limit, offset)
    folder = client_path(path)
    if not folder.is_dir():
        raise ValueError(f"{path!r} is not a folder")
    visible = (child for child in folder.iterdir() if not child.name.startswith("."))
    children = sorted(visible, key=lambda child: (not child.is_dir(), child.name))
    entries = [{"name": child.name, "path": str(child), "is_dir": child.is_dir(),
                "size_bytes": child.stat().st_size if child.is_file() else None} for child in children]
    return _listing(str(folder), entries, limit, offset)


def _listing(path: str | None, entries: list[dict[str, Any]], limit: int | None, offset: int) -> dict[str, Any]:
    window = paginate(entries, limit, offset)
    return {"path": path, "entries": window.pop("items"), **window}
