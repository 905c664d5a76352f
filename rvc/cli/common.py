"""What every step command does around its work: events, exit codes, and errors as events; shared options."""

from __future__ import annotations

import argparse
import traceback
from collections.abc import Callable
from typing import Any

from rvc.events import EventSink
from rvc.jobs.process import USER_ERROR_EXIT


def run_step(name: str, work: Callable[[EventSink], dict[str, Any]]) -> int:
    """Run ``work(sink)``; its dict is the result event. A user's mistake (bad value, missing file, refused) exits 2
    with its message; anything else exits 1 with the traceback as the error's detail."""
    sink = EventSink()
    try:
        result = work(sink)
    except (ValueError, FileNotFoundError, PermissionError) as error:
        sink.error(str(error))
        return USER_ERROR_EXIT
    except Exception as error:  # a job's error event must say what broke, whatever it was
        sink.error(f"{name} failed: {error}", traceback.format_exc())
        return 1
    finally:
        sink.close()
    sink.result(result)
    return 0


def add_confinement(parser: argparse.ArgumentParser) -> None:
    """`--confine-to FOLDER` (repeatable) of the steps that read a dataset: only files inside these folders are read.
    A user at the command line has the machine anyway; the server passes the folders its clients may read."""
    parser.add_argument("--confine-to", action="append", metavar="FOLDER",
                        help="read dataset files only inside this folder (repeatable; default: anywhere)")
