"""Hostile-structure model and index files, built by code: each valid in its format (torch loads it with
``weights_only=True``, or faiss reads its header), each shaped to freeze or exhaust whatever parses it trustingly.

The model files are the issue's probe and its relatives: an ``info`` of memo-shared references (a few hundred KB
that is 2**25 paths as text), an ``info`` nested 100,000 deep (RecursionError for every recursive consumer), a
deflated 2 GB zero tensor (a compression bomb), a legacy-format file whose pickle declares a 2 GB storage, a tensor
whose shape needs 2 GB of a 54 KB storage, a 7 MB pickle, and a zip directory of 50,000 entries. The index files
are an RVC-built IVF-Flat index with one inverted list's size forged (+1.8 GB in faiss), the same index cut
short, a flat index whose vector count or width is forged, an IVF header declaring 2**40 lists or vectors, bytes
after the index, and a faiss type RVC never writes (HNSW).

`HOSTILE_MODELS` and `HOSTILE_INDEXES` list them with the refusal each must get: ``problem`` (a regex) from
every reader, and whether the upload judge sees it already (a layout problem) or only a reader does (what the
pickle builds).
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import torch

from tests.factories import tiny_pth

MARKER_SIZE = 54321  # a tensor size that occurs nowhere else in the pickles patched below
BOMB_BYTES = 2**31
ZERO_CHUNK = bytes(2**20)
INDEX_DIM, INDEX_LISTS, INDEX_ROWS = 256, 16, 700
IVF_HEADER_BYTES = 4 + 33 + 16  # fourcc, index header, nlist and nprobe
FLAT_HEADER_BYTES = 4 + 33


@dataclass(frozen=True)
class HostileFile:
    name: str
    suffix: str  # ".pth" or ".index"
    build: Callable[[Path], None]
    problem: str  # regex of the refusal
    at_upload: bool  # the upload judge refuses it (its layout); else only reading it does (what it builds)

    def write(self, folder: Path) -> Path:
        path = folder / f"{self.name}{self.suffix}"
        self.build(path)
        return path


# --- models --------------------------------------------------------------------------------------------------


def _tiny_model() -> dict:
    return torch.load(tiny_pth("tiny_v2_f0_40k"), weights_only=True)


def _torch_bytes(content: object, legacy: bool = False) -> bytes:
    buffer = io.BytesIO()
    torch.save(content, buffer, _use_new_zipfile_serialization=not legacy)
    return buffer.getvalue()


def _rewritten(source: bytes, path: Path, edit_pickle: Callable[[bytes], bytes],
               big_record: tuple[str, int] | None = None) -> None:
    """``source`` (a torch zip) written again with its pickle edited, and optionally one record replaced by that
    many deflated zero bytes."""
    with zipfile.ZipFile(io.BytesIO(source)) as original, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for entry in original.infolist():
            if big_record and entry.filename.endswith(big_record[0]):
                with archive.open(entry.filename, "w", force_zip64=True) as record:
                    for _ in range(big_record[1] // len(ZERO_CHUNK)):
                        record.write(ZERO_CHUNK)
                continue
            data = original.read(entry.filename)
            data = edit_pickle(data) if entry.filename.endswith("data.pkl") else data
            archive.writestr(entry.filename, data, compress_type=zipfile.ZIP_STORED)  # as torch writes them


def _with_info_opcodes(opcodes: bytes) -> Callable[[Path], None]:
    """The tiny model with its ``info`` replaced by raw pickle opcodes (what torch.save cannot write itself)."""
    placeholder = b"X\x0b\x00\x00\x00PLACEHOLDER"  # BINUNICODE "PLACEHOLDER"

    def build(path: Path) -> None:
        source = _torch_bytes({**_tiny_model(), "info": "PLACEHOLDER"})
        _rewritten(source, path, lambda pickle: pickle.replace(placeholder, opcodes))

    return build


def shared_reference_info(path: Path, levels: int = 25) -> None:
    """The probe's file: each level a list of two references to the level below (the pickle memo keeps it tiny)."""
    info: list = ["leaf"]
    for _ in range(levels):
        info = [info, info]
    torch.save({**_tiny_model(), "info": info}, path)


def _marked_tensor_file(legacy: bool = False) -> bytes:
    return _torch_bytes({"weight": {"emb_g.weight": torch.zeros(MARKER_SIZE, dtype=torch.uint8)},
                         "config": [], "info": "", "version": "v2"}, legacy)


def _as_pickle_int(value: int) -> bytes:
    return b"\x8a" + bytes([8]) + value.to_bytes(8, "little")  # LONG1


def _marker() -> bytes:
    return b"M" + struct.pack("<H", MARKER_SIZE)  # BININT2: the storage's size and the tensor's shape


def deflated_zero_tensor(path: Path) -> None:
    """A 2 GB zero tensor whose record is deflated (9 MB of file at zlib's fastest level; level 9 makes 2 MB)."""
    _rewritten(_marked_tensor_file(), path, lambda pickle: pickle.replace(_marker(), _as_pickle_int(BOMB_BYTES)),
               big_record=("data/0", BOMB_BYTES))


def legacy_oversized_storage(path: Path) -> None:
    """A legacy (non-zip) torch file whose pickle declares a 2 GB storage: torch allocates it before reading."""
    path.write_bytes(_marked_tensor_file(legacy=True).replace(_marker(), _as_pickle_int(BOMB_BYTES)))


def oversized_tensor_shape(path: Path) -> None:
    """A tensor of shape [2**31] over its true 54 KB storage."""
    shape = b"K\x00" + _marker() + b"\x85"  # offset 0, then the shape as a 1-tuple
    _rewritten(_marked_tensor_file(), path,
               lambda pickle: pickle.replace(shape, b"K\x00" + _as_pickle_int(BOMB_BYTES) + b"\x85"))


def pickle_flood(path: Path) -> None:
    """A 7 MB pickle: an ``info`` list of 1.5 million references to one text."""
    torch.save({**_tiny_model(), "info": ["x"] * 1_500_000}, path)


def directory_flood(path: Path, entries: int = 50_000) -> None:
    """A torch zip with 50,000 extra records: `zipfile` would build 25 MB of objects from its directory."""
    source = zipfile.ZipFile(io.BytesIO(_torch_bytes(_tiny_model())))
    with zipfile.ZipFile(path, "w") as archive:
        for entry in source.infolist():
            archive.writestr(entry.filename, source.read(entry.filename))
        for number in range(entries):
            archive.writestr(f"archive/extra/{number}", b"")


TOO_MANY = r"it holds more than 100000 objects"
HOSTILE_MODELS = (
    HostileFile("shared-reference-info", ".pth", shared_reference_info, TOO_MANY, at_upload=False),
    HostileFile("nested-info", ".pth", _with_info_opcodes(b"]" * 100_000 + b"a" * 99_999),
                r"it nests containers more than 32 levels deep", at_upload=False),
    HostileFile("deflated-zero-tensor", ".pth", deflated_zero_tensor,
                r"its zip entries unpack to 2\.0 GB from a file of .* \(a compression bomb",
                at_upload=True),
    HostileFile("legacy-oversized-storage", ".pth", legacy_oversized_storage,
                r"its pickle declares 2\.0 GB of tensor data but the file holds only", at_upload=True),
    HostileFile("oversized-tensor-shape", ".pth", oversized_tensor_shape,
                r"not a readable PyTorch file .*: Trying to resize storage that is not resizable", at_upload=False),
    HostileFile("pickle-flood", ".pth", pickle_flood,
                r"its pickle takes \d+\.\d MB, more than a model file's \(2\.0 MB at most\)", at_upload=True),
    HostileFile("directory-flood", ".pth", directory_flood, r"its zip directory takes .* MB, more",
                at_upload=True),
)


# --- indexes -------------------------------------------------------------------------------------------------


def rvc_index_bytes() -> bytes:
    """An IVF-Flat index as RVC builds one (``IVF<n>,Flat``, nprobe 1, vectors added), small."""
    vectors = np.random.default_rng(0).normal(size=(INDEX_ROWS, INDEX_DIM)).astype(np.float32)
    index = faiss.index_factory(INDEX_DIM, f"IVF{INDEX_LISTS},Flat")
    faiss.extract_index_ivf(index).nprobe = 1
    index.train(vectors)
    index.add(vectors)
    return faiss.serialize_index(index).tobytes()


def _ilar_at() -> int:
    """Where the inverted lists start: after the IVF header, the flat quantizer and an empty direct map."""
    return IVF_HEADER_BYTES + FLAT_HEADER_BYTES + 8 + INDEX_LISTS * INDEX_DIM * 4 + 1 + 8


def _patched(offset: int, fmt: str, value: int) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        data = bytearray(rvc_index_bytes())
        assert data[_ilar_at():_ilar_at() + 4] == b"ilar" and data[FIRST_LIST_SIZE - 12:FIRST_LIST_SIZE - 8] == b"full"
        struct.pack_into(fmt, data, offset, value)
        path.write_bytes(bytes(data))

    return build


def _flat_index_bytes() -> bytes:
    index = faiss.IndexFlatL2(INDEX_DIM)
    index.add(np.random.default_rng(1).normal(size=(64, INDEX_DIM)).astype(np.float32))
    return faiss.serialize_index(index).tobytes()


def _flat_patched(offset: int, fmt: str, value: int) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        data = bytearray(_flat_index_bytes())
        struct.pack_into(fmt, data, offset, value)
        path.write_bytes(bytes(data))

    return build


def _written(data: Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data())


def _hnsw_bytes() -> bytes:
    index = faiss.IndexHNSWFlat(INDEX_DIM, 8)
    index.add(np.random.default_rng(2).normal(size=(32, INDEX_DIM)).astype(np.float32))
    return faiss.serialize_index(index).tobytes()


FIRST_LIST_SIZE = _ilar_at() + 4 + 8 + 8 + 4 + 8  # "ilar", nlist, code_size, "full", the sizes' count
FORGED = r"\(truncated, or a forged count\)"
HOSTILE_INDEXES = (
    # 600,000 vectors of 256 floats and an id: faiss zero-fills 600 MB for the list before reading it
    HostileFile("forged-list-size", ".index", _patched(FIRST_LIST_SIZE + 3 * 8, "<Q", 600_000),
                rf"inverted list 3: .* bytes declared, .* left in the file {FORGED}", at_upload=True),
    HostileFile("truncated-lists", ".index", _written(lambda: rvc_index_bytes()[:-5000]),
                rf"the inverted lists: .* bytes declared, .* left in the file {FORGED}", at_upload=True),
    HostileFile("forged-vector-count", ".index", _flat_patched(FLAT_HEADER_BYTES, "<Q", 2**34),
                rf"the vectors of the index: .* bytes declared, .* left in the file {FORGED}", at_upload=True),
    HostileFile("forged-width", ".index", _flat_patched(4, "<i", 2**20),
                r"the index holds 16384 numbers, not 64 vectors of 1048576", at_upload=True),
    HostileFile("forged-list-count", ".index", _patched(4 + 33, "<Q", 2**40),
                r"the index declares 1099511627776 inverted lists", at_upload=True),
    HostileFile("forged-total", ".index", _patched(8, "<q", 2**40),
                r"its inverted lists hold 700 vectors but the header declares 1099511627776", at_upload=True),
    HostileFile("bytes-after-the-index", ".index", _written(lambda: rvc_index_bytes() + bytes(100)),
                r"100 bytes follow the end of the index", at_upload=True),
    HostileFile("hnsw-index", ".index", _written(_hnsw_bytes), r"has type 'IHNf', not one RVC reads", at_upload=True),
)
