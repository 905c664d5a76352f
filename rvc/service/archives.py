"""Zips from strangers, unpacked safely: no member outside the folder, no links, the total size limited.

Used by model imports (a zip holding a `.pth` and its `.index`) and dataset uploads (a zip of clips).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from rvc.service.errors import TooLarge

CHUNK_BYTES = 1 << 20
_S_IFMT, _S_IFLNK = 0o170000, 0o120000
_DRIVE = re.compile(r"^[A-Za-z]:")  # C:evil.pth, C:/evil.pth


class Budget:
    """The bytes an action may still take (downloads and unpacked members together)."""

    def __init__(self, limit_bytes: int, what: str = "the import") -> None:
        self.limit_bytes = limit_bytes
        self.what = what
        self.used = 0

    def take(self, count: int) -> None:
        self.used += count
        if self.used > self.limit_bytes:
            raise TooLarge(f"{self.what} is larger than the limit of {self.limit_bytes // 2**20} MB")


def unpack(archive: Path, folder: Path, budget: Budget, suffixes: tuple[str, ...]) -> list[Path]:
    """The members of a zip whose names end in ``suffixes`` (any case), written flat into ``folder``. A member with
    an absolute path, a `..` part, a backslash or a drive, or a link is refused; the sizes the members declare must
    fit the budget before anything is written, and the bytes actually written count against it too (a header can
    lie).
    """
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(archive) as zipped:
            wanted = _wanted_members(archive, zipped.infolist(), suffixes)
            declared = sum(member.file_size for member in wanted)
            if budget.used + declared > budget.limit_bytes:
                raise TooLarge(f"{archive.name} unpacks to {declared // 2**20} MB, more than the limit of "
                               f"{budget.limit_bytes // 2**20} MB")
            return [_extract(zipped, member, folder, budget) for member in wanted]
    except zipfile.BadZipFile as error:
        raise ValueError(f"{archive.name} is not a readable zip: {error}") from error


def _wanted_members(archive: Path, members: list[zipfile.ZipInfo], suffixes: tuple[str, ...]) -> list[zipfile.ZipInfo]:
    """The members asked for, once every member has been checked to stay inside the folder."""
    names = set()
    wanted = []
    for member in members:
        if _unsafe(member):
            raise ValueError(f"{archive.name}: unsafe member {member.filename!r}")
        path = PurePosixPath(member.filename)
        if member.is_dir() or not path.name.lower().endswith(suffixes) or path.name.startswith("."):
            continue
        if path.name in names:
            raise ValueError(f"{archive.name}: two members are named {path.name}")
        names.add(path.name)
        wanted.append(member)
    return wanted


def _unsafe(member: zipfile.ZipInfo) -> bool:
    """A member that could land outside the folder: absolute, with a `..` part, a backslash or a drive, or a link."""
    path = PurePosixPath(member.filename)
    is_link = (member.external_attr >> 16) & _S_IFMT == _S_IFLNK
    return (path.is_absolute() or ".." in path.parts or "\\" in member.filename
            or _DRIVE.match(member.filename) is not None or is_link)


def _extract(zipped: zipfile.ZipFile, member: zipfile.ZipInfo, folder: Path, budget: Budget) -> Path:
    target = folder / PurePosixPath(member.filename).name
    with zipped.open(member) as source, open(target, "wb") as file:
        while chunk := source.read(CHUNK_BYTES):
            budget.take(len(chunk))
            file.write(chunk)
    return target
