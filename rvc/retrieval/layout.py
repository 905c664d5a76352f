"""The layout of a faiss ``.index`` file, walked and checked against the file's size before faiss reads it.

faiss trusts the counts a file declares: it allocates (and zero-fills) an inverted list at the size the file
states before reading it, so a 166 KB index with one list size changed costs gigabytes. This reader follows
``faiss/impl/index_read.cpp`` for the index types RVC writes: IndexIVFFlat ("IwFl", what ``IVF<n>,Flat`` builds)
over a flat quantizer, with array inverted lists ("ilar"), and plain flat indexes ("IxF2" L2, "IxFI" inner
product, "IxFl" other metrics). Every count times its element size must fit in the bytes left, the parts must
agree with each other (widths, list count, vector count), and the layout must end where the file ends. Only
headers and the list sizes are read; the vectors are skipped.

Layout (little-endian; ``vector`` = uint64 count, then count elements):
    index header: fourcc, d int32, ntotal int64, two int64 (1 << 20), is_trained uint8, metric int32
                  [metric_arg float32 when metric > 1]
    flat:         header, vector<float> of ntotal * d
    IVF flat:     header, nlist uint64, nprobe uint64, quantizer (a flat index), direct map (type uint8,
                  vector<int64>, [vector<(int64, int64)> for a hash table]), inverted lists
    ilar:         "ilar", nlist uint64, code_size uint64, "full" vector<uint64> sizes | "sprs" vector<uint64>
                  (list, size) pairs, then per non-empty list: size * code_size code bytes, size int64 ids
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

FLAT_TYPES = {b"IxF2": "flat L2", b"IxFI": "flat inner product", b"IxFl": "flat"}
IVF_FLAT = b"IwFl"
ARRAY_LISTS = b"ilar"
FULL_SIZES, SPARSE_SIZES = b"full", b"sprs"
HEADER_DUMMY = 1 << 20  # faiss writes this twice after ntotal
MAX_DIM = 1 << 20  # faiss's own bound on d
MAX_LISTS = 1 << 20  # RVC builds at most a few thousand lists (16 * sqrt(rows), rows // 39)
DIRECT_MAP_TYPES = {0: 0, 1: 0, 2: 16}  # none, array, hash table -> bytes per entry of its second vector
FLOAT32, INT64 = 4, 8


class IndexLayoutError(ValueError):
    """A file that is not an index RVC can read, or one whose counts do not fit it; the problem alone."""


@dataclass(frozen=True)
class IndexLayout:
    """What the file declares: its type, vector width, vector count and (for an IVF index) list count."""

    kind: str
    dim: int
    ntotal: int
    nlist: int | None = None


class _Reader:
    """Reads fixed fields and skips counted payloads, never past the end of the file."""

    def __init__(self, file: BinaryIO, size: int) -> None:
        self.file = file
        self.size = size

    @property
    def left(self) -> int:
        return self.size - self.file.tell()

    def fields(self, fmt: str, what: str) -> tuple:
        length = struct.calcsize(fmt)
        data = self.file.read(length)
        if len(data) < length:
            raise IndexLayoutError(f"the file ends inside {what} (truncated)")
        return struct.unpack(fmt, data)

    def count(self, item_bytes: int, what: str) -> int:
        """A vector's count, checked to fit in the bytes left (the elements stay unread)."""
        (count,) = self.fields("<Q", what)
        self.need(count * item_bytes, what)
        return count

    def need(self, length: int, what: str) -> None:
        if length > self.left:
            raise IndexLayoutError(f"{what}: {length} bytes declared, {self.left} left in the file "
                                   "(truncated, or a forged count)")

    def skip(self, length: int, what: str) -> None:
        self.need(length, what)
        self.file.seek(length, os.SEEK_CUR)

    def array(self, count: int, what: str) -> np.ndarray:
        self.need(count * INT64, what)
        return np.frombuffer(self.file.read(count * INT64), dtype="<u8")


def read_layout(path: str | os.PathLike) -> IndexLayout:
    """Walk the index file at ``path``; raise :class:`IndexLayoutError` unless every part fits the file."""
    with open(path, "rb") as file:
        reader = _Reader(file, os.fstat(file.fileno()).st_size)
        layout = _index(reader, "the index")
        if reader.left:
            raise IndexLayoutError(f"{reader.left} bytes follow the end of the index (damaged or another format)")
    return layout


def _index(reader: _Reader, what: str, quantizer: bool = False) -> IndexLayout:
    (fourcc,) = reader.fields("<4s", f"the type of {what}")
    if fourcc in FLAT_TYPES:
        dim, ntotal = _header(reader, what)
        floats = reader.count(FLOAT32, f"the vectors of {what}")
        if floats != ntotal * dim:
            raise IndexLayoutError(f"{what} holds {floats} numbers, not {ntotal} vectors of {dim}")
        reader.skip(floats * FLOAT32, f"the vectors of {what}")
        return IndexLayout(FLAT_TYPES[fourcc], dim, ntotal)
    if fourcc == IVF_FLAT and not quantizer:
        return _ivf_flat(reader)
    shown = fourcc.decode("latin-1") if fourcc.isalnum() else fourcc.hex()
    raise IndexLayoutError(f"{what} has type {shown!r}, not one RVC reads (IVF-Flat 'IwFl' or flat 'IxF2')"
                           if not quantizer else f"its quantizer has type {shown!r}, not a flat index")


def _header(reader: _Reader, what: str) -> tuple[int, int]:
    dim, ntotal, first, second, trained, metric = reader.fields("<iqqqBi", f"the header of {what}")
    if not 0 < dim <= MAX_DIM:
        raise IndexLayoutError(f"{what} declares vectors of width {dim} (1 to {MAX_DIM})")
    if ntotal < 0 or (first, second) != (HEADER_DUMMY, HEADER_DUMMY) or trained > 1:
        raise IndexLayoutError(f"the header of {what} is not one faiss writes (damaged or another format)")
    if metric > 1:
        reader.fields("<f", f"the metric of {what}")
    return dim, ntotal


def _ivf_flat(reader: _Reader) -> IndexLayout:
    dim, ntotal = _header(reader, "the index")
    nlist, _nprobe = reader.fields("<QQ", "the IVF header")
    if not 0 < nlist <= MAX_LISTS:
        raise IndexLayoutError(f"the index declares {nlist} inverted lists (1 to {MAX_LISTS})")
    centroids = _index(reader, "its quantizer", quantizer=True)
    if (centroids.dim, centroids.ntotal) != (dim, nlist):
        raise IndexLayoutError(f"its quantizer holds {centroids.ntotal} centroids of width {centroids.dim}, "
                               f"not the {nlist} of width {dim} the index declares")
    _direct_map(reader)
    held = _array_lists(reader, nlist, code_bytes=dim * FLOAT32)
    if held != ntotal:
        raise IndexLayoutError(f"its inverted lists hold {held} vectors but the header declares {ntotal}")
    return IndexLayout("IVF flat", dim, ntotal, nlist)


def _direct_map(reader: _Reader) -> None:
    (kind,) = reader.fields("<B", "the direct map")
    if kind not in DIRECT_MAP_TYPES:
        raise IndexLayoutError(f"its direct map has type {kind}, not one faiss writes")
    reader.skip(reader.count(INT64, "the direct map") * INT64, "the direct map")
    if DIRECT_MAP_TYPES[kind]:
        pair = DIRECT_MAP_TYPES[kind]
        reader.skip(reader.count(pair, "the direct map's hash table") * pair, "the direct map's hash table")


def _array_lists(reader: _Reader, nlist: int, code_bytes: int) -> int:
    """Check the inverted lists and skip their contents; the number of vectors they hold."""
    kind, lists, code_size, layout = reader.fields("<4sQQ4s", "the inverted lists' header")
    if kind != ARRAY_LISTS:
        raise IndexLayoutError(f"its inverted lists have type {kind!r}, not the array lists ('ilar') faiss writes")
    if (lists, code_size) != (nlist, code_bytes):
        raise IndexLayoutError(f"its inverted lists are {lists} of {code_size}-byte codes, not the index's "
                               f"{nlist} of {code_bytes}")
    sizes = np.zeros(nlist, dtype=np.uint64)
    if layout == FULL_SIZES:
        count = reader.count(INT64, "the inverted list sizes")
        if count != nlist:
            raise IndexLayoutError(f"it gives {count} inverted list sizes for {nlist} lists")
        sizes = reader.array(count, "the inverted list sizes")
    elif layout == SPARSE_SIZES:
        count = reader.count(INT64, "the inverted list sizes")
        pairs = reader.array(count, "the inverted list sizes")
        if count % 2 or (count and int(pairs[0::2].max()) >= nlist):
            raise IndexLayoutError("its sparse inverted list sizes name lists that do not exist")
        sizes[pairs[0::2].astype(np.int64)] = pairs[1::2]
    else:
        raise IndexLayoutError(f"its inverted list sizes are stored as {layout!r}, not 'full' or 'sprs'")
    entry = code_size + INT64  # a vector's code and its id
    largest = int(sizes.max(initial=0))
    reader.need(largest * entry, f"inverted list {int(sizes.argmax())}")  # before summing: no uint64 overflow
    held = int(sizes.sum())  # each size <= the file's bytes and at most MAX_LISTS of them: fits in uint64
    reader.skip(held * entry, "the inverted lists")
    return held
