"""`rvc.atomic`: a failed write keeps the old file, leaves no temporary file, and names the file it was writing."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from rvc.atomic import atomic_write, write_json_atomic


def test_a_full_disk_keeps_the_old_file_and_names_the_target(tmp_path: Path):
    target = tmp_path / "settings.json"
    write_json_atomic(target, {"old": True})
    before = target.read_bytes()
    with pytest.raises(OSError) as caught, atomic_write(target) as temporary:
        temporary.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", str(temporary))
    assert caught.value.errno == errno.ENOSPC
    assert str(caught.value) == f"[Errno 28] No space left on device while writing {target}"
    assert target.read_bytes() == before
    assert list(tmp_path.iterdir()) == [target]


def test_the_error_class_and_an_errno_less_message_are_kept(tmp_path: Path):
    with pytest.raises(PermissionError, match=f"Permission denied while writing {tmp_path / 'a'}"):
        with atomic_write(tmp_path / "a"):
            raise PermissionError(errno.EACCES, "Permission denied")
    with pytest.raises(OSError, match=f"^disk full while writing {tmp_path / 'b'}$"):
        with atomic_write(tmp_path / "b"):
            raise OSError("disk full")
    assert list(tmp_path.iterdir()) == []
