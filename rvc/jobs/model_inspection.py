"""Reading model files' metadata in a child process with a memory limit and a time limit per file.

A server lists the models that guests put in `assets/weights`; parsing one in the server's own process would let a
hostile file take the server's memory, crash it, or hold a request for minutes. So the files are read by
``python -m rvc inspect`` (`rvc.cli.inspect_models`), all of a listing's unread files by one child: the child
answers one line per file, and each file has `INSPECT_TIMEOUT_S` to answer. A file whose read kills the child
or outlasts its time is answered with an error, and the files after it go to a fresh child. POSIX only (pipes
waited on with `selectors`), like the job runner's process groups.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rvc.config import PROJECT_ROOT
from rvc.jobs.process import describe_exit

INSPECT_TIMEOUT_S = 20.0
"""Per file; the first includes the child's start (~2 s: importing torch and the synthesizer). A 430 MB `G_*.pth`
with its optimizer reads in ~1.5 s on 2 CPU cores."""
INSPECT_MEMORY_MB = 2048
"""Above what the child holds once started; a real model needs about its own size (the largest, a 48k `G_*.pth`
with its optimizer: 430 MB)."""
READ_BYTES = 65536
INSPECT_COMMAND = (sys.executable, "-m", "rvc", "inspect")  # tests put stand-ins in its place


@dataclass(frozen=True)
class Inspection:
    """What the child answered for one file: `rvc.synth.tools.model_info`'s dict, or an error sentence."""

    info: dict[str, Any] | None = None
    error: str | None = None


def inspect_models(
    paths: Sequence[Path], timeout_s: float = INSPECT_TIMEOUT_S, memory_mb: int = INSPECT_MEMORY_MB,
    command: Sequence[str] = INSPECT_COMMAND,
) -> dict[Path, Inspection]:
    """An answer for every path: one child reads them all unless one of them stops it."""
    answers: dict[Path, Inspection] = {}
    while len(answers) < len(paths):
        argv = [*command, "--memory-mb", str(memory_mb), "--", *map(str, paths[len(answers):])]
        answers |= _inspect_in_child(argv, list(paths[len(answers):]), timeout_s)
    return answers


def _inspect_in_child(command: list[str], paths: list[Path], timeout_s: float) -> dict[Path, Inspection]:
    """The answers one child gives, in order, up to and including the file it died or stalled on."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # reading needs no thread pool
    answers: dict[Path, Inspection] = {}
    with subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, start_new_session=True) as child, \
            selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ)
        pending = b""
        deadline = time.monotonic() + timeout_s
        try:
            while len(answers) < len(paths):
                path = paths[len(answers)]
                if not selector.select(max(0.0, deadline - time.monotonic())):
                    answers[path] = Inspection(error=f"{path}: reading it took longer than {timeout_s:.0f} s, so it "
                                                     "was stopped (a damaged or hostile file?)")
                    break
                chunk = os.read(child.stdout.fileno(), READ_BYTES)
                if not chunk:
                    answers[path] = Inspection(error=f"{path}: reading it stopped the reader process "
                                                     f"({describe_exit(child.wait())}; a damaged or hostile file?)")
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    answer = _answer(line, paths[len(answers)]) if len(answers) < len(paths) else None
                    if answer is not None:
                        answers[paths[len(answers)]] = answer
                        deadline = time.monotonic() + timeout_s
        finally:
            child.kill()
    return answers


def _answer(line: bytes, path: Path) -> Inspection | None:
    """The child's answer for ``path`` on ``line``; None for any other output."""
    try:
        answer = json.loads(line)
    except ValueError:
        return None
    if not isinstance(answer, dict) or answer.get("path") != str(path):
        return None
    if isinstance(answer.get("info"), dict):
        return Inspection(info=answer["info"])
    return Inspection(error=str(answer.get("error") or f"{path}: the reader gave no answer"))
