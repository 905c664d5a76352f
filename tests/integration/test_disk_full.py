"""A full disk while saving a checkpoint, writing a converted output and writing the job store, and when the job
store (or the whole server) starts on a disk that is already full.

Two ways to run out of room, with the same writes and the same checks:
- a real full file system: a 8 MB tmpfs filled to the last block, so writes fail with ENOSPC (needs root and
  mount rights; skipped, saying why, where the container forbids mounting);
- a file size limit: RLIMIT_FSIZE in a child process with SIGXFSZ ignored, so writes past the limit fail with
  EFBIG; it runs everywhere.
Each failed write must raise an OSError naming the file it was writing, keep the previous file at that name
intact and loadable, and leave no temporary file; the store must pass `PRAGMA integrity_check` and keep its rows.
Opening the store out of room must fail with one `StoreOpenError` line naming the file, the problem and the remedy,
and leave the database's bytes as they were; `webui.py` shows that line and exits, without a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from rvc.audio import read_audio, write_audio
from rvc.jobs import JobStore, StoreOpenError
from rvc.synth.checkpoint import build_synthesizer, load_checkpoint, read_torch_file, save_training_checkpoint
from rvc.synth.synthesizer import Synthesizer
from tests.conftest import PROJECT_ROOT, REFERENCE_DIR
from tests.integration.conftest import free_port

TMPFS_SIZE = "8m"
FILE_SIZE_LIMIT_BYTES = 64 * 1024  # below every write the test attempts
OPEN_SIZE_LIMIT_BYTES = 16 * 1024  # below the 32 KB shared-memory file SQLite makes when it opens a WAL database
RATE_HZ = 40_000
CHECKPOINT, OUTPUT, DATABASE = "G_8.pth", "out.wav", "webui.db"
BIG_PARAMS = {"blob": "x" * 200_000}


def tiny_model() -> Synthesizer:
    return build_synthesizer(load_checkpoint(REFERENCE_DIR / "tiny_v2_f0_40k.pth"))


def save_checkpoint(folder: Path, iteration: int) -> Path:
    model = tiny_model()
    optimizer = torch.optim.AdamW(model.parameters(), 1e-4)
    return save_training_checkpoint(folder / CHECKPOINT, model, optimizer, 1e-4, iteration)


def tone(seconds: float, hz: float) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(int(RATE_HZ * seconds)) / RATE_HZ)).astype(np.float32)


def write_good_store(folder: Path) -> bytes:
    """A store with one task; returns the database's bytes."""
    store = JobStore(folder / DATABASE)
    store.create_task("inference", [], {"input_path": "a.wav", "model": "m"}, "cpu")
    store.close()
    return (folder / DATABASE).read_bytes()


def write_good_files(folder: Path) -> dict[str, bytes]:
    """The files a full disk must not damage: a checkpoint, a converted output, a store with one task."""
    save_checkpoint(folder, iteration=7)
    write_audio(folder / OUTPUT, tone(1.0, 220.0), RATE_HZ)
    write_good_store(folder)
    return {name: (folder / name).read_bytes() for name in (CHECKPOINT, OUTPUT)}


def attempt_writes(folder: Path, run_out_of_room: Callable[[], object]) -> dict[str, dict | None]:
    """Overwrite each good file (the store: add a big task) once out of room; the error each write raised, None
    if it worked. The store is opened first, as a server opens it at start-up (on a full disk even opening fails).
    """
    store = JobStore(folder / DATABASE)
    run_out_of_room()
    writes = {
        CHECKPOINT: lambda: save_checkpoint(folder, iteration=8),
        OUTPUT: lambda: write_audio(folder / OUTPUT, tone(2.0, 440.0), RATE_HZ),
        DATABASE: lambda: store.create_task("inference", [], BIG_PARAMS, "cpu"),
    }
    errors: dict[str, dict | None] = {}
    for name, write in writes.items():
        try:
            write()
            errors[name] = None
        except Exception as error:
            errors[name] = {"type": type(error).__name__, "errno": getattr(error, "errno", None), "message": str(error)}
    store.close()
    return errors


def attempt_open(folder: Path, run_out_of_room: Callable[[], object]) -> str | None:
    """Open the store once out of room, as a server does at start-up; the StoreOpenError's message, None if it
    opened.
    """
    run_out_of_room()
    try:
        JobStore(folder / DATABASE).close()
    except StoreOpenError as error:
        return str(error)
    return None


def fill(folder: Path) -> Path:
    """Take every free block of ``folder``'s file system."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as stream:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    stream.write(b"\0" * chunk)
            except OSError as error:
                assert error.errno == errno.ENOSPC
    return filler


def check_outcome(folder: Path, good: dict[str, bytes], errors: dict[str, dict | None], errno_code: int) -> None:
    for name in (CHECKPOINT, OUTPUT):
        error = errors[name]
        assert error is not None and error["type"] == "OSError" and error["errno"] == errno_code, (name, error)
        assert error["message"].endswith(f"while writing {folder / name}"), error
        assert (folder / name).read_bytes() == good[name]
    content = read_torch_file(folder / CHECKPOINT)
    assert content["iteration"] == 7
    tiny_model().load_state_dict(content["model"], strict=True)
    assert read_audio(folder / OUTPUT).samples.shape == (1, RATE_HZ)
    assert errors[DATABASE] is not None and errors[DATABASE]["type"] == "OperationalError", errors[DATABASE]
    assert not list(folder.glob(".*.tmp"))
    store = JobStore(folder / DATABASE)
    try:
        assert store.integrity_check() == ["ok"]
        assert [task.params for task in store.list_tasks().items] == [{"input_path": "a.wav", "model": "m"}]
        store.create_task("inference", [], BIG_PARAMS, "cpu")  # with room again, the store goes on
        assert store.list_tasks().total == 2
    finally:
        store.close()


def check_open_refused(folder: Path, good: bytes, message: str | None, problem: str) -> None:
    """One line naming the database and ``problem``, and the store kept."""
    assert message is not None and message.startswith(f"cannot open the database {folder / DATABASE}: "), message
    assert problem in message and "\n" not in message, message
    check_store_kept(folder, good)


def check_store_kept(folder: Path, good: bytes) -> None:
    """The database's bytes unchanged, and with room again it opens with its task."""
    assert (folder / DATABASE).read_bytes() == good
    store = JobStore(folder / DATABASE)
    try:
        assert store.integrity_check() == ["ok"]
        assert [task.params for task in store.list_tasks().items] == [{"input_path": "a.wav", "model": "m"}]
    finally:
        store.close()


@pytest.fixture()
def small_tmpfs(tmp_path: Path):
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the RLIMIT_FSIZE test covers it")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)  # lazy: even if a file is still open


def test_a_full_tmpfs(small_tmpfs: Path):
    good = write_good_files(small_tmpfs)
    errors = attempt_writes(small_tmpfs, lambda: fill(small_tmpfs))
    (small_tmpfs / "filler").unlink()
    print("\nfull tmpfs:", json.dumps(errors, indent=1))
    check_outcome(small_tmpfs, good, errors, errno.ENOSPC)
    assert "No space left on device while writing" in errors[CHECKPOINT]["message"]
    assert errors[DATABASE]["message"] == "database or disk is full"


def test_opening_the_store_on_a_full_tmpfs(small_tmpfs: Path):
    good = write_good_store(small_tmpfs)
    message = attempt_open(small_tmpfs, lambda: fill(small_tmpfs))
    (small_tmpfs / "filler").unlink()
    print("\nfull tmpfs, opening:", message)
    check_open_refused(small_tmpfs, good, message, "its disk is full (0 bytes free): free some space there")


def test_webui_on_a_full_disk_says_so_in_one_line(small_tmpfs: Path):
    logs = small_tmpfs / "logs"
    logs.mkdir()
    good = write_good_store(logs)
    fill(small_tmpfs)
    started = time.monotonic()
    server = subprocess.run([sys.executable, "webui.py", "--port", str(free_port())], cwd=PROJECT_ROOT,
                            env=dict(os.environ, RVC_HOME=str(small_tmpfs), GRADIO_ANALYTICS_ENABLED="False"),
                            capture_output=True, text=True, timeout=120)
    print(f"\nwebui.py exited with {server.returncode} after {time.monotonic() - started:.1f} s: {server.stderr}")
    assert server.returncode == 1 and "Traceback" not in server.stdout + server.stderr
    assert server.stderr.strip().splitlines() == [f"webui.py: error: cannot open the database {logs / DATABASE}: "
                                                  "its disk is full (0 bytes free): free some space there and start "
                                                  "again (disk I/O error)"]
    (small_tmpfs / "filler").unlink()
    check_store_kept(logs, good)


CHILD = """
import json, resource, signal, sys
from pathlib import Path
from tests.integration import test_disk_full
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[2])
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
attempt = getattr(test_disk_full, sys.argv[3])
errors = attempt(Path(sys.argv[1]), lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard)))
print(json.dumps(errors))  # to a pipe: no file size limit there
"""


def with_file_size_limit(folder: Path, limit_bytes: int, attempt: str) -> object:
    """What ``attempt`` (a function of this module, like `attempt_writes`) returns in a child process whose files
    may not grow past ``limit_bytes``.
    """
    child = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(limit_bytes), attempt],
                           cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout.splitlines()[-1])


def test_a_file_size_limit_in_a_child_process(tmp_path: Path):
    good = write_good_files(tmp_path)
    errors = with_file_size_limit(tmp_path, FILE_SIZE_LIMIT_BYTES, "attempt_writes")
    print("\nRLIMIT_FSIZE:", json.dumps(errors, indent=1))
    check_outcome(tmp_path, good, errors, errno.EFBIG)
    assert "File too large while writing" in errors[CHECKPOINT]["message"]


def test_opening_the_store_with_a_file_size_limit(tmp_path: Path):
    good = write_good_store(tmp_path)
    message = with_file_size_limit(tmp_path, OPEN_SIZE_LIMIT_BYTES, "attempt_open")
    print("\nRLIMIT_FSIZE, opening:", message)
    check_open_refused(tmp_path, good, message, "the disk could not be read or written")
