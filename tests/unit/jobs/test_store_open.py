"""A database the store cannot open, because of the file or its folder: one clear error, and the file untouched.

The full disk is in `tests/integration/test_disk_full.py` (a real tmpfs filled up, and a file size limit).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rvc.jobs import JobStore, StoreOpenError

GARBAGE = b"these are not the bytes of a SQLite database\n" * 100


def files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def make_database(folder: Path) -> None:
    store = JobStore(folder / "webui.db")
    store.create_task("inference", [], {"input_path": "a.wav", "model": "m"}, "cpu")
    store.close()


@pytest.fixture()
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder with a database in it, made read-only: by its mode, or for root, whom modes do not stop, by a
    read-only bind mount.
    """
    folder = tmp_path / "logs"
    folder.mkdir()
    make_database(folder)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    for options in (["--bind"], ["-o", "remount,bind,ro"]):
        mounted = subprocess.run(["mount", *options, str(folder), str(folder)], capture_output=True, text=True)
        if mounted.returncode != 0:
            subprocess.run(["umount", str(folder)], capture_output=True)
            pytest.skip(f"root cannot make a read-only folder here: {mounted.stderr.strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_file_that_is_not_a_database_is_named_and_left_alone(tmp_path: Path):
    path = tmp_path / "webui.db"
    path.write_bytes(GARBAGE)
    with pytest.raises(StoreOpenError) as raised:
        JobStore(path)
    message = str(raised.value)
    print("\n" + message)
    assert str(path) in message and "not a SQLite database" in message and "move it aside" in message
    assert "\n" not in message
    assert files(tmp_path) == {"webui.db": GARBAGE}
    path.rename(tmp_path / "webui.db.broken")  # what the message asks for
    JobStore(path).close()


def test_a_read_only_folder_is_named_and_its_database_kept(read_only_folder: Path):
    before = files(read_only_folder)
    for path in (read_only_folder / "webui.db", read_only_folder / "new" / "webui.db"):
        with pytest.raises(StoreOpenError) as raised:
            JobStore(path)
        message = str(raised.value)
        print("\n" + message)
        assert str(path) in message and "read-only" in message and "writable" in message
    assert files(read_only_folder) == before

