"""Hostile and broken model files against every loader a user can reach: no code runs, each gets a clear error.

The corpus is generated in a temporary folder. A hostile file holds a pickle whose ``__reduce__`` would call
os.system, eval, exec, subprocess.Popen or builtins.__import__ to create a marker file, hidden in one of the
ecosystem's layouts (a bare object, a nested dict, an fp16 small `.pth` in "info" or in "config", a fairseq
`hubert_base.pt`, a `G_*.pth`, an `rmvpe.pt`) and saved as a torch zip archive, a legacy (non-zip) torch file,
or a plain pickle (protocols 2 and 5). A broken file is a mislabelled or damaged one. Every file meets every
loader; each load must raise that loader's error type with the file's name and the problem in one sentence,
leave the marker absent, leave the file itself as it was, and leave what is saved in the RVC home (a model and
an index named like the import's file) byte for byte and mtime for mtime.

The run ends with "N hostile files, M loads tried (file x loader), 0 executed code, M clear errors"
(conftest.py). Single-loader cases of tests/unit/synth/test_checkpoint.py and tests/unit/embedders/test_load.py
are not repeated as such: here every file meets every loader.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import os
import pickle
import re
import shlex
import shutil
import subprocess
import time
import zipfile
from argparse import Namespace
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from rvc import service
from rvc.config import Paths
from rvc.embedders import EmbedderError, load_embedder
from rvc.events import EventSink
from rvc.f0 import F0ModelError, load_rmvpe_net
from rvc.retrieval import IndexFileError, IndexMismatchError, load_index
from rvc.service.importer import install
from rvc.synth import CheckpointError, load_checkpoint, load_synthesizer
from rvc.synth.discriminators import MultiPeriodDiscriminator
from rvc.synth.tools import extract_small_model, merge_models, model_info, modify_info
from tests.conftest import DATA_DIR, REFERENCE_DIR
from tests.factories import tiny_pth
from tests.unit.embedders.foreign import Dictionary, importable_as_foreign

# torch warns, then refuses, when it meets a pickle newer than protocol 2: the pickle5 files are meant to be that.
pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")

TINY = "tiny_v2_f0_40k"
INDEX_V2 = REFERENCE_DIR / "added_IVF51_Flat_nprobe_1_example_v2.index"
VICTIM = "victim"  # the saved model's name, which every import below tries to take
MAX_MESSAGE_CHARS = 700  # with the path: an embedder that does not fit lists up to 5 keys of each kind
# What torch and faiss print for developers; none of it belongs in a message to a user.
TOOL_NOISE = ("weights_only", "\x1b[", "Traceback", "Error in ", "enforce fail", "Please file an issue", "Re-running")


# --- payloads ------------------------------------------------------------------------------------------------


class Call:
    """Pickles as ``fn(*args)``, as a malicious file's ``__reduce__`` does.

    Callable only so that pickle accepts a Call as the function of another (the chained
    ``getattr(__import__("os"), "system")(...)`` payload); the test never calls one.
    """

    def __init__(self, fn: object, *args: object) -> None:
        self.fn, self.args = fn, args

    def __call__(self, *args: object) -> None:
        raise AssertionError("payloads are pickled, never called, by the test")

    def __reduce__(self) -> tuple:
        return self.fn, self.args


def _touch_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


def _touch_command(marker: Path) -> str:
    return f"touch {shlex.quote(str(marker))}"


@dataclass(frozen=True)
class Payload:
    name: str
    build: Callable[[Path], Call]  # marker file -> the object that would create it when unpickled
    called: str  # regex of the global that a refusal names
    settle_s: float = 0.0  # how long its effect may take to show once it ran (a started process: a `touch`)


PAYLOADS = (
    Payload("os.system", lambda marker: Call(os.system, _touch_command(marker)), r"\b(posix|nt)\.system\b"),
    Payload("eval", lambda marker: Call(eval, _touch_code(marker)), r"\beval\b"),
    Payload("exec", lambda marker: Call(exec, _touch_code(marker)), r"\bexec\b"),
    Payload("Popen", lambda marker: Call(subprocess.Popen, ["touch", str(marker)]), r"\bPopen\b", settle_s=0.05),
    Payload(
        "__import__",
        lambda marker: Call(Call(getattr, Call(builtins.__import__, "os"), "system"), _touch_command(marker)),
        r"\b(getattr|__import__)\b",
    ),
)


# --- where a payload hides, and how the file is saved --------------------------------------------------------


def tiny_small_model() -> dict:
    """The reference tiny model in the small `.pth` layout (fp16 weights, config list, info, sr, f0, version)."""
    return torch.load(tiny_pth(TINY), weights_only=True)


def fairseq_layout(cfg: object) -> dict:
    """A `hubert_base.pt` as fairseq saves it (Namespace args, omegaconf cfg, label dictionaries)."""
    return {
        "args": Namespace(arch="hubert", encoder_layers=12),
        "cfg": cfg,
        "model": {"feature_extractor.conv_layers.0.0.weight": torch.zeros(4, 1, 10)},
        "task_state": {"dictionaries": [Dictionary(["<s>", "<pad>", "</s>", "<unk>"])]},
    }


# container name -> (file name, payload -> the file's content)
CONTAINERS: dict[str, tuple[str, Callable[[object], object]]] = {
    "bare": ("model.pth", lambda payload: payload),
    "nested-dict": ("model.pth", lambda payload: {"model": {"layers": [{"weight": payload}]}}),
    "small-pth-info": ("voice.pth", lambda payload: {**tiny_small_model(), "info": payload}),
    "small-pth-config": (
        "voice.pth",
        lambda payload: (model := tiny_small_model()) | {"config": [*model["config"][:-1], payload]},
    ),
    "hubert-cfg": ("hubert_base.pt", fairseq_layout),
    "g-checkpoint": (
        "G_2333.pth",
        lambda payload: {
            "model": {key: value.float() for key, value in tiny_small_model()["weight"].items()},
            "iteration": 2333,
            "optimizer": {"state": {0: {"exp_avg": payload}}, "param_groups": []},
            "learning_rate": 1e-4,
        },
    ),
    "rmvpe": ("rmvpe.pt", lambda payload: {"fc.1.bias": torch.zeros(360), "unet.encoder.bn.weight": payload}),
}

TENSORLESS = ("bare", "nested-dict")  # the containers without tensors

FORMATS: dict[str, Callable[[object, Path], None]] = {
    "zip": lambda content, path: torch.save(content, path),
    "legacy": lambda content, path: torch.save(content, path, _use_new_zipfile_serialization=False),
    "pickle2": lambda content, path: path.write_bytes(pickle.dumps(content, protocol=2)),
    "pickle5": lambda content, path: path.write_bytes(pickle.dumps(content, protocol=5)),
}


# --- the corpus ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusFile:
    """One file of the corpus: how to write it, and the problem each loader family must name."""

    name: str
    write: Callable[[Path, Path], Path]  # (folder, marker) -> the file written in folder
    problems: Mapping[str, str]  # loader family ("synth", "embedder", "rmvpe", "index") or "*" -> regex
    skip: frozenset[str] = field(default_factory=frozenset)  # families for which the file is a valid one
    settle_s: float = 0.0  # see Payload

    def problem(self, family: str) -> str:
        return self.problems.get(family, self.problems["*"])


def hostile_file(payload: Payload, container: str, fmt: str) -> CorpusFile:
    filename, layout = CONTAINERS[container]

    def write(folder: Path, marker: Path) -> Path:
        path = folder / filename
        with importable_as_foreign(Dictionary):
            FORMATS[fmt](layout(payload.build(marker)), path)
        return path

    # torch refuses the first global outside its allow-list that the pickle meets: the payload, or a foreign
    # object stored before it: a plain pickle's tensor storage (which torch.load would unpickle without
    # weights_only), or fairseq's Namespace (which only the embedder admits).
    earlier = ["torch\\.storage\\._load_from_bytes"] if fmt == "pickle2" and container not in TENSORLESS else []
    namespace = ["argparse\\.Namespace"] if container == "hubert-cfg" else []
    problems = {"*": rf"refused to load.*({'|'.join([payload.called, *earlier, *namespace])})",
                "embedder": rf"refused to load.*({'|'.join([payload.called, *earlier])})",
                "index": "not a faiss index"}
    if fmt == "pickle5":  # weights-only loading stops at the first opcode newer than protocol 2
        unread = r"not a readable PyTorch file .*: not a weights-only pickle \(opcode 149"  # protocol 4's FRAME
        problems |= {"*": unread, "embedder": unread}
    return CorpusFile(f"{container}-{fmt}-{payload.name}", write, problems, settle_s=payload.settle_s)


def _written(filename: str, data: Callable[[], bytes]) -> Callable[[Path, Path], Path]:
    def write(folder: Path, marker: Path) -> Path:
        (folder / filename).write_bytes(data())
        return folder / filename

    return write


def _saved(filename: str, content: Callable[[], object]) -> Callable[[Path, Path], Path]:
    def write(folder: Path, marker: Path) -> Path:
        with importable_as_foreign(Dictionary):
            torch.save(content(), folder / filename)
        return folder / filename

    return write


def _random_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", np.random.default_rng(1).bytes(4096))
        archive.writestr("archive/version", b"3\n")
    return buffer.getvalue()


def _discriminator_checkpoint() -> dict:
    with torch.device("meta"):
        names = list(MultiPeriodDiscriminator("v2").state_dict())
    return {"model": {name: torch.zeros(1) for name in names}, "iteration": 100, "optimizer": {}}


UNREADABLE = r"not a readable PyTorch file \(truncated or another format\)"
NOT_HUBERT = r"not a HuBERT checkpoint|do not fit a HuBERT-base embedder"
NO_INFO_TEXT = r"only small inference models \(\.pth with 'weight' and 'config'\) carry an info text"  # modify_info

BROKEN = (
    CorpusFile("empty", _written("voice.pth", bytes), {"*": r"the file is empty \(0 bytes\)"}),
    CorpusFile("truncated", _written("voice.pth", lambda: tiny_pth(TINY).read_bytes()[:100_000]),
               {"*": r"not a readable PyTorch file \(truncated", "index": "not a faiss index"}),
    CorpusFile("text-named-pth", _written("voice.pth", lambda: b"<html><body>404 Not Found</body></html>\n" * 9),
               {"*": UNREADABLE, "index": "not a faiss index"}),
    CorpusFile("random-bytes", _written("voice.pth", lambda: np.random.default_rng(0).bytes(8192)),
               {"*": UNREADABLE, "index": "not a faiss index"}),
    CorpusFile("zip-of-random-bytes", _written("voice.pth", _random_zip),
               {"*": UNREADABLE, "index": "not a faiss index"}),
    CorpusFile("discriminator-as-model", _saved("D_100.pth", _discriminator_checkpoint),
               {"synth": rf"discriminator checkpoint \(D_\*\.pth\), not a voice model|{NO_INFO_TEXT}",
                "embedder": NOT_HUBERT, "rmvpe": "not an RMVPE model", "*": "not a faiss index"}),
    CorpusFile("hubert-as-model", _saved("hubert_base.pt", lambda: fairseq_layout(None)),
               {"*": r"refused to load.*argparse\.Namespace", "embedder": NOT_HUBERT, "index": "not a faiss index"}),
    CorpusFile("rmvpe-as-model", _saved("rmvpe.pt", lambda: {"fc.1.bias": torch.zeros(360)}),
               {"synth": f"not an RVC voice model|{NO_INFO_TEXT}", "embedder": NOT_HUBERT,
                "rmvpe": "not an RMVPE model state dict", "*": "not a faiss index"}),
    CorpusFile("index-named-pth", _written("voice.pth", INDEX_V2.read_bytes), {"*": UNREADABLE},
               skip=frozenset({"index"})),
    CorpusFile("truncated-index", _written("voice.index", lambda: INDEX_V2.read_bytes()[:5000]),
               {"*": UNREADABLE, "index": r"not a faiss index: .*\(truncated"}),
)

# Every payload in every format, bare and nested; in the ecosystem's layouts (whose real tensors make each load
# slower) every format, with the payloads taking turns.
HOSTILE = tuple(hostile_file(p, c, f) for c in TENSORLESS for f in FORMATS for p in PAYLOADS) + tuple(
    hostile_file(PAYLOADS[(number + turn) % len(PAYLOADS)], container, fmt)
    for number, container in enumerate(c for c in CONTAINERS if c not in TENSORLESS)
    for turn, fmt in enumerate(FORMATS)
)
CORPUS = HOSTILE + BROKEN


# --- the loaders ---------------------------------------------------------------------------------------------


def _install_as_victim(path: Path, home: Path, scratch: Path) -> object:
    """The import path: the file arrives as `victim.pth`, the name of a model already saved."""
    scratch.mkdir(parents=True, exist_ok=True)
    arrived = shutil.copy(path, scratch / f"{VICTIM}.pth")
    return install([Path(arrived)], Paths(home), EventSink(io.StringIO(), json_lines=True))


@dataclass(frozen=True)
class Loader:
    name: str
    family: str
    error: type[Exception]
    run: Callable[[Path, Path, Path], object]  # (file, RVC home, scratch folder)
    arrives_as: str | None = None  # the name the loader sees the file under, when it is not the file's own


LOADERS = (
    Loader("load_checkpoint", "synth", CheckpointError, lambda path, home, scratch: load_checkpoint(path)),
    Loader("load_synthesizer", "synth", CheckpointError, lambda path, home, scratch: load_synthesizer(path)),
    Loader("model_info", "synth", CheckpointError, lambda path, home, scratch: model_info(path)),
    Loader("modify_info", "synth", CheckpointError, lambda path, home, scratch: modify_info(path, "overwritten")),
    Loader("extract_small_model", "synth", CheckpointError,
           lambda path, home, scratch: extract_small_model(path, home / "assets" / "weights" / "extracted.pth")),
    Loader("merge_models", "synth", CheckpointError,
           lambda path, home, scratch: merge_models(path, tiny_pth(TINY), 0.5, home / "assets" / "weights" / "m.pth")),
    Loader("importer.install", "synth", CheckpointError, _install_as_victim, arrives_as=f"{VICTIM}.pth"),
    Loader("load_embedder", "embedder", EmbedderError, lambda path, home, scratch: load_embedder(path)),
    Loader("load_rmvpe_net", "rmvpe", F0ModelError, lambda path, home, scratch: load_rmvpe_net(path)),
    Loader("load_index", "index", IndexFileError, lambda path, home, scratch: load_index(path)),
)


def judge(error: Exception, expected: type[Exception], name: str, problem: str) -> str | None:
    """None when ``error`` is a clear one: the loader's type, one short sentence naming the file and ``problem``."""
    message = str(error)
    if not isinstance(error, expected):
        return f"{type(error).__name__} instead of {expected.__name__}: {message[:300]!r}"
    if name not in message:
        return f"the message does not name {name}: {message!r}"
    if "\n" in message or len(message) > MAX_MESSAGE_CHARS:
        return f"not one short sentence: {message!r}"
    if noise := [text for text in TOOL_NOISE if text in message]:
        return f"the message carries the tools' own text {noise}: {message!r}"
    if not re.search(problem, message):
        return f"the message does not say /{problem}/: {message!r}"
    return None


def attempt(loader: Loader, path: Path, home: Path, scratch: Path, problem: str) -> str | None:
    """What is wrong with how ``loader`` treats ``path`` (None: nothing)."""
    try:
        loader.run(path, home, scratch)
    except Exception as error:  # the subject of the test: every exception a loader lets out is judged
        return judge(error, loader.error, loader.arrives_as or path.name, problem)
    return "loaded it without an error"


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``folder``: mtime (ns) and content hash."""
    return {
        str(path.relative_to(folder)): (path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An RVC home with a saved model and its index, both named like the file every import brings."""
    home = tmp_path_factory.mktemp("home")
    (home / "assets" / "weights").mkdir(parents=True)
    (home / "assets" / "indices" / VICTIM).mkdir(parents=True)
    shutil.copy(tiny_pth(TINY), home / "assets" / "weights" / f"{VICTIM}.pth")
    shutil.copy(INDEX_V2, home / "assets" / "indices" / VICTIM / f"added_IVF51_Flat_nprobe_1_{VICTIM}_v2.index")
    return home


@pytest.mark.parametrize("corpus_file", CORPUS, ids=[entry.name for entry in CORPUS])
def test_no_loader_runs_code_and_each_names_the_problem(
    corpus_file: CorpusFile, home: Path, tmp_path: Path, hostile_tally: Counter
) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "files").mkdir()
    path = corpus_file.write(tmp_path / "files", marker)
    saved, original = snapshot(home), snapshot(path.parent)
    complaints = []
    hostile_tally["files"] += 1
    for loader in LOADERS:
        if loader.family in corpus_file.skip:
            continue
        problems = [attempt(loader, path, home, tmp_path / "scratch" / loader.name, corpus_file.problem(loader.family))]
        executed = marker.exists()
        problems += ["THE PAYLOAD RAN" if executed else None,
                     "changed what is saved in the RVC home" if snapshot(home) != saved else None,
                     "changed the file it was given" if snapshot(path.parent) != original else None]
        problems = [problem for problem in problems if problem]
        hostile_tally.update(tries=1, executed=int(executed), clear=int(not problems))
        complaints += [f"{loader.name}: {problem}" for problem in problems]
        marker.unlink(missing_ok=True)
    time.sleep(corpus_file.settle_s)
    if marker.exists():
        hostile_tally["executed"] += 1
        complaints.append("A PAYLOAD RAN (its effect showed after the last loader)")
    assert not complaints, "\n".join(complaints)


@pytest.mark.parametrize("payload", PAYLOADS, ids=[payload.name for payload in PAYLOADS])
def test_the_payloads_are_live(payload: Payload, tmp_path: Path) -> None:
    """The control: an unsafe load of the same file runs the payload, so an absent marker above means refused."""
    marker = tmp_path / "pwned"
    path = hostile_file(payload, "nested-dict", "zip").write(tmp_path, marker)
    torch.load(path, weights_only=False)
    deadline = time.monotonic() + 5
    while not marker.exists() and time.monotonic() < deadline:  # a started process takes its time
        time.sleep(0.01)
    assert marker.exists()


def _index_of_width(path: Path, width: int) -> Path:
    import faiss

    index = faiss.IndexFlatL2(width)
    index.add(np.random.default_rng(0).normal(size=(64, width)).astype(np.float32))
    faiss.write_index(index, str(path))
    return path


def test_an_index_of_the_wrong_width_for_the_model_is_named(tmp_path: Path, hostile_tally: Counter) -> None:
    """A v1 (256-d) index given with a v2 model: refused before any audio is read, naming both widths."""
    path = _index_of_width(tmp_path / "added_IVF1_Flat_nprobe_1_voice_v1.index", 256)
    hostile_tally["files"] += 1
    with pytest.raises(IndexMismatchError) as error:
        service.convert(DATA_DIR / "voice_low" / "001.flac", tiny_pth(TINY), tmp_path / "out.wav",
                        params={"f0_method": "pm", "index_rate": 0.5}, index=path)
    complaint = judge(error.value, IndexMismatchError, path.name, r"256-d features but the model gives 768-d")
    hostile_tally.update(tries=1, clear=int(complaint is None))
    assert complaint is None
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("bad_index", ["text", "v1-width"])
def test_an_import_refuses_an_index_that_cannot_serve_its_model(bad_index: str, tmp_path: Path) -> None:
    arrived = tmp_path / "arrived"
    arrived.mkdir()
    model = Path(shutil.copy(tiny_pth(TINY), arrived / "singer.pth"))
    index = arrived / "added_IVF1_Flat_nprobe_1_singer_v2.index"
    if bad_index == "text":
        index.write_text("<html>404 Not Found</html>\n")
    else:
        _index_of_width(index, 256)
    with pytest.raises(ValueError, match=index.name):
        install([model, index], Paths(tmp_path / "home"), EventSink(io.StringIO(), json_lines=True))
    assert not (tmp_path / "home" / "assets").exists()
