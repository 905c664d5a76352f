"""Files appear complete or not at all: write beside the target, then rename over it.

Every writer of lasting state (checkpoints, models, step records, settings, reports) goes through here, so a
crash or a kill -9 never leaves half a file under a real name, and "the file exists" means "it is done".
A write that fails (a full disk, a file size limit) removes its temporary file, leaves any earlier file at the
target untouched, and raises an `OSError` that names the target, not the temporary name nobody knows.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; when the block succeeds it is renamed to ``path``.

    An `OSError` in the block or the rename comes out as `write_error` (same errno and class, the target named).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        raise write_error(error, path) from error
    finally:
        temporary.unlink(missing_ok=True)


def write_error(error: OSError, path: str | os.PathLike) -> OSError:
    """``error`` restated for the file being written, e.g. "No space left on device while writing .../G_8.pth".

    The errno is kept, so the class is too (PermissionError stays PermissionError) and callers can test it.
    """
    if error.errno is None:
        return OSError(f"{error} while writing {path}")
    return OSError(error.errno, f"{os.strerror(error.errno)} while writing {path}")


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_write(path) as temporary:
        temporary.write_text(json.dumps(data, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
