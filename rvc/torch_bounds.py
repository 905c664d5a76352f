"""What a torch file declares, checked against what it holds, before `torch.load` allocates anything for it.

torch trusts a file's declarations: the zip reader allocates each record at the uncompressed size its zip directory
states (a 2 MB file of deflated zeros becomes a 2 GB tensor), and the legacy (non-zip) reader allocates every
storage at the element count its pickle states before it reads a byte of data. Both are read here first, without
inflating or unpickling anything: the zip directory with `zipfile`, the legacy pickle opcode by opcode with
`pickletools` (which only parses). The bounds sit far above every real file of the ecosystem (measured: data.pkl
<= 220 KB and 2246 records for a 48k `G_*.pth` with its optimizer; stored records, uncompressed = the file size).
"""

from __future__ import annotations

import io
import os
import pickletools
import struct
import zipfile
from pathlib import Path
from typing import BinaryIO

import torch

MAX_PICKLE_BYTES = 2 * 2**20
"""A file's pickle (the layout of its tensors and its metadata). Unpickling takes memory per opcode byte (an empty
dict is 1 byte of pickle and 64 of memory), so this bounds what loading can build besides the tensors."""
MAX_DIRECTORY_BYTES = 2 * 2**20
"""A zip's central directory; `zipfile` makes a ~500-byte object of each ~50-byte entry in it."""
MAX_INFLATION = 4
"""Uncompressed bytes per byte of file, plus `INFLATION_SLACK_BYTES`. torch writes its records stored, so a real
file holds at most its own size (a deflated copy of one: about as much); zeros deflate 1000 to 1."""
INFLATION_SLACK_BYTES = 2**20
EOCD = b"PK\x05\x06"
EOCD_FORMAT = "<4s4H2LH"
ZIP64_LOCATOR = b"PK\x06\x07"
ZIP64_LOCATOR_FORMAT = "<4sLQL"
ZIP64_EOCD_FORMAT = "<4sQ2H2L4Q"
ZIP_START = b"PK\x03\x04"
ZIP_TAIL_BYTES = 22 + 65535  # the end-of-directory record and the longest comment it may carry
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a legacy torch.save: this number alone
LEGACY_HEAD_BYTES = 2 * MAX_PICKLE_BYTES + 4096  # the object's and the storage keys' pickles, after three tiny ones


class DeclaredSizeError(ValueError):
    """A file that declares more than it holds or than a model file may; the message is the problem alone."""


class UnreadableLayoutError(DeclaredSizeError):
    """A file whose layout cannot be read far enough to check it (truncated, or not what torch writes)."""


def check_declared_sizes(path: str | os.PathLike) -> None:
    """Raise :class:`DeclaredSizeError` when loading ``path`` would build more than the file can justify.

    A file is a zip when it starts like one, as torch decides. Other files pass unless they are legacy torch files
    that declare too much: `torch.load` refuses the rest on their first pickle, whose length is checked here.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as file:
        if file.read(len(ZIP_START)) == ZIP_START:
            _check_zip(file, size)
        else:
            file.seek(0)
            _check_pickles(file.read(LEGACY_HEAD_BYTES), size)


def _check_zip(file: BinaryIO, size: int) -> None:
    directory = _directory_bytes(file, size)
    if directory > MAX_DIRECTORY_BYTES:
        raise DeclaredSizeError(f"its zip directory takes {_mb(directory)}, more than a model file's "
                                f"({_mb(MAX_DIRECTORY_BYTES)} at most)")
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as error:  # torch's reader would fail as well, or be fooled
        raise UnreadableLayoutError(f"its zip directory is damaged ({error})") from error
    for entry in entries:
        if entry.header_offset + entry.compress_size > size:
            raise UnreadableLayoutError(f"its zip entry {entry.filename!r} reaches past the end of the file")
        if entry.filename.endswith("/data.pkl") and entry.file_size > MAX_PICKLE_BYTES:
            raise DeclaredSizeError(_pickle_too_long(entry.file_size))
    inflated = sum(entry.file_size for entry in entries)
    if inflated > MAX_INFLATION * size + INFLATION_SLACK_BYTES:
        raise DeclaredSizeError(f"its zip entries unpack to {_mb(inflated)} from a file of {_mb(size)} "
                                "(a compression bomb: torch writes its records uncompressed)")


def _directory_bytes(file: BinaryIO, size: int) -> int:
    """The central directory's size as the end record states it (the zip64 one for a file past 4 GB)."""
    file.seek(max(0, size - ZIP_TAIL_BYTES))
    tail = file.read()
    at = tail.rfind(EOCD)
    if at < 0 or len(tail) - at < struct.calcsize(EOCD_FORMAT):
        raise UnreadableLayoutError("its zip directory is missing (cut short)")
    directory = struct.unpack_from(EOCD_FORMAT, tail, at)[5]
    locator_at = at - struct.calcsize(ZIP64_LOCATOR_FORMAT)
    if locator_at >= 0 and tail[locator_at:locator_at + len(ZIP64_LOCATOR)] == ZIP64_LOCATOR:
        file.seek(struct.unpack_from(ZIP64_LOCATOR_FORMAT, tail, locator_at)[2])
        record = file.read(struct.calcsize(ZIP64_EOCD_FORMAT))
        if len(record) < struct.calcsize(ZIP64_EOCD_FORMAT):
            raise UnreadableLayoutError("its zip64 directory record is cut short")
        directory = struct.unpack(ZIP64_EOCD_FORMAT, record)[8]
    return directory


def _check_pickles(head: bytes, size: int) -> None:
    """A legacy file: magic number, protocol, system info, the object (whose storages declare their sizes), the
    storage keys, then the storages' bytes. Any other file: its first pickle, which is all that torch reads of it.

    A pickle that does not parse is left to torch, which refuses it, unless it runs to the end of ``head`` and the
    file goes on: then it is longer than `MAX_PICKLE_BYTES` (or declares a text that long).
    """
    stream = io.BytesIO(head)
    cut_at = len(head) if len(head) < size else None
    magic = _parse(stream, cut_at)
    if magic is None or [value for name, value in magic if name != "PROTO" and value is not None] != [LEGACY_MAGIC]:
        return
    *_, main, keys = [_parse(stream, cut_at) for _ in range(4)]  # protocol, system info, the object, storage keys
    if main is None or keys is None:  # torch would allocate the storages declared before the damage
        raise UnreadableLayoutError("its pickles are cut short or malformed")
    declared = _declared_storage_bytes(main)
    held = size - stream.tell()
    if declared > held:
        raise DeclaredSizeError(f"its pickle declares {_mb(declared)} of tensor data but the file holds only "
                                f"{_mb(held)} after it (a damaged or forged legacy torch file)")


def _parse(stream: io.BytesIO, cut_at: int | None) -> list[tuple[str, object]] | None:
    """(opcode name, argument) of the pickle at the stream's position up to its STOP, parsed only; None when it
    does not parse. ``cut_at``: where the stream stops short of the file (None: it holds the whole file)."""
    start = stream.tell()
    try:
        opcodes = [(opcode.name, argument) for opcode, argument, _ in pickletools.genops(stream)]
    except ValueError:
        if stream.tell() == cut_at:
            raise DeclaredSizeError(_pickle_too_long(None)) from None
        return None
    if stream.tell() - start > MAX_PICKLE_BYTES:
        raise DeclaredSizeError(_pickle_too_long(stream.tell() - start))
    return opcodes


MARK = object()
TUPLE_SIZES = {"EMPTY_TUPLE": 0, "TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
OPCODES = {opcode.name: opcode for opcode in pickletools.opcodes}


def _declared_storage_bytes(opcodes: list[tuple[str, object]]) -> int:
    """The bytes the legacy pickle's storages declare (each root storage once), from its persistent ids
    ``('storage', <type>, key, location, numel, view)``: a stack machine that keeps literals and tuples and treats
    every other object as an opaque slot, so nothing is built or called.
    """
    stack: list[object] = []
    memo: dict[object, object] = {}
    declared: dict[object, int] = {}
    try:
        for name, argument in opcodes:
            if name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
                memo[len(memo) if name == "MEMOIZE" else argument] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo.get(argument))
            elif name == "MARK":
                stack.append(MARK)
            elif name == "DUP":
                stack.append(stack[-1])
            elif name == "TUPLE":
                stack.append(tuple(_pop_to_mark(stack)))
            elif name in TUPLE_SIZES:
                items = _pop(stack, TUPLE_SIZES[name])
                stack.append(tuple(items))
            elif name in ("BINPERSID", "PERSID"):
                pid = stack.pop() if name == "BINPERSID" else argument
                _record_storage(pid, declared)
                stack.append(None)
            else:
                _generic(name, argument, stack)
    except IndexError as error:  # an opcode took more than the stack held: not a pickle torch wrote
        raise UnreadableLayoutError("its pickle is malformed") from error
    return sum(declared.values())


def _generic(name: str, argument: object, stack: list[object]) -> None:
    """Any other opcode: its stack effect, pushing the literal it carries (or an opaque slot)."""
    opcode = OPCODES[name]
    before = opcode.stack_before
    if pickletools.markobject in before:
        _pop_to_mark(stack)
        below = before.index(pickletools.markobject)
    else:
        below = len(before)
    _pop(stack, below)
    literal = name == "GLOBAL" or (not before and len(opcode.stack_after) == 1)
    stack.extend([argument if literal else None] * len(opcode.stack_after))
    if name in ("NEWTRUE", "NEWFALSE"):
        stack[-1] = name == "NEWTRUE"


def _pop(stack: list[object], count: int) -> list[object]:
    """The top ``count`` items, taken off; IndexError when the stack holds fewer."""
    if len(stack) < count:
        raise IndexError(count)
    items = stack[len(stack) - count:]
    del stack[len(stack) - count:]
    return items


def _pop_to_mark(stack: list[object]) -> list[object]:
    """The items above the topmost mark, taken off with it; IndexError when there is no mark."""
    for at in range(len(stack) - 1, -1, -1):
        if stack[at] is MARK:
            items = stack[at + 1:]
            del stack[at:]
            return items
    raise IndexError("no mark")


def _record_storage(pid: object, declared: dict[object, int]) -> None:
    if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
        return
    storage_type, key, numel = pid[1], pid[2], pid[4]
    if not isinstance(numel, int) or numel < 0 or not isinstance(storage_type, str):
        raise DeclaredSizeError("its pickle declares a storage without a valid type and size")
    declared.setdefault(key, numel * _element_bytes(storage_type))


def _element_bytes(storage_type: str) -> int:
    """Bytes per element of a pickled storage class ("torch FloatStorage"), as torch's legacy reader maps it."""
    try:
        dtype = torch.serialization.StorageType(storage_type.rpartition(" ")[2]).dtype
    except (KeyError, AttributeError) as error:
        raise DeclaredSizeError(f"its pickle names an unknown storage type {storage_type!r}") from error
    return torch._utils._element_size(dtype)


def _pickle_too_long(length: int | None) -> str:
    if length is None:
        return f"its pickle does not end within {_mb(MAX_PICKLE_BYTES)} (longer than a model file's, or malformed)"
    return f"its pickle takes {_mb(length)}, more than a model file's ({_mb(MAX_PICKLE_BYTES)} at most)"


def _mb(count: int) -> str:
    if count >= 2**30:
        return f"{count / 2**30:.1f} GB"
    return f"{count / 2**20:.1f} MB" if count >= 2**20 else f"{count} bytes"
