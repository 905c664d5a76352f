"""Every hostile-structure file through every reader, in a process of its own: one JSON line per (file, reader).

Run by test_hostile_structures.py as ``python -m tests.unit.hardening.structure_probe CORPUS HOME``. A process of
its own, so that its peak memory (``ru_maxrss``, which only grows) starts from a baseline that no other test
raised: the readers first read valid files once (the lazy imports, faiss's and torch's first allocations), then
each line says how far one reader raised the peak above that baseline, how long it took, and what it raised.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rvc.config import Paths
from rvc.events import EventSink
from rvc.retrieval import IndexFileError, load_index
from rvc.safe_load import WeightsFileError, load_weights
from rvc.service.errors import UnsupportedMedia
from rvc.service.files import save_upload
from rvc.service.importer import install
from rvc.synth import CheckpointError, load_checkpoint
from rvc.synth.tools import model_info
from tests.factories import tiny_pth
from tests.hostile_files import HOSTILE_INDEXES, HOSTILE_MODELS, rvc_index_bytes

TINY = tiny_pth("tiny_v2_f0_40k")
TINY_V1 = tiny_pth("tiny_v1_f0_40k")  # reads 256-d features, the width of the corpus's indexes


@dataclass(frozen=True)
class Reader:
    name: str
    suffix: str  # the files it reads
    error: type[Exception]
    run: Callable[[Path, Path], object]  # (file, scratch folder)
    upload: bool = False  # the upload judge: refuses only what `HostileFile.at_upload` says
    names_file: bool = True  # False: the message is the problem alone, its callers add the path


def _upload(path: Path, scratch: Path) -> object:
    with open(path, "rb") as file:
        return save_upload(path.name, iter(lambda: file.read(2**20), b""))


def _install(path: Path, scratch: Path) -> object:
    """The importer with a good model and ``path`` as its index, arriving in a scratch folder."""
    scratch.mkdir(parents=True, exist_ok=True)
    model = Path(shutil.copy(TINY_V1, scratch / "voice.pth"))
    index = Path(shutil.copy(path, scratch / path.name))
    return install([model, index], Paths(scratch / "home"), EventSink(io.StringIO(), json_lines=True))


READERS = (
    Reader("load_weights", ".pth", WeightsFileError, lambda path, scratch: load_weights(path), names_file=False),
    Reader("load_checkpoint", ".pth", CheckpointError, lambda path, scratch: load_checkpoint(path)),
    Reader("model_info", ".pth", CheckpointError, lambda path, scratch: model_info(path)),
    Reader("save_upload", ".pth", UnsupportedMedia, _upload, upload=True),
    Reader("load_index", ".index", IndexFileError, lambda path, scratch: load_index(path)),
    Reader("importer.install", ".index", IndexFileError, _install),
    Reader("save_upload", ".index", UnsupportedMedia, _upload, upload=True),
)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def attempt(reader: Reader, path: Path, scratch: Path) -> dict:
    start = time.perf_counter()
    try:
        reader.run(path, scratch)
        error = None
    except Exception as raised:  # the subject: whatever a reader lets out is reported
        error = raised
    return {"seconds": time.perf_counter() - start, "error_type": type(error).__name__ if error else None,
            "message": str(error) if error else None}


def warm_up(scratch: Path) -> None:
    """Each reader on a valid file, so that what a first use allocates is in the baseline."""
    index = scratch / "warm" / "added_IVF16_Flat_nprobe_1_voice_v2.index"
    index.parent.mkdir(parents=True)
    index.write_bytes(rvc_index_bytes())
    for reader in READERS:
        result = attempt(reader, TINY if reader.suffix == ".pth" else index, scratch / "warm" / reader.name)
        if result["error_type"]:
            raise RuntimeError(f"{reader.name} refused a valid file: {result['message']}")


def main(corpus: Path, home: Path) -> None:
    os.environ["RVC_HOME"] = str(home)
    scratch = home / "scratch"
    warm_up(scratch)
    baseline = peak_mb()
    for hostile in HOSTILE_MODELS + HOSTILE_INDEXES:
        path = corpus / f"{hostile.name}{hostile.suffix}"
        for reader in (reader for reader in READERS if reader.suffix == hostile.suffix):
            result = attempt(reader, path, scratch / hostile.name / reader.name)
            line = {"file": hostile.name, "reader": reader.name, **result, "peak_mb": peak_mb() - baseline}
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
