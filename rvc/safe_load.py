"""`torch.load` for files from strangers: weights only, and every failure as one short sentence.

Community model files are untrusted, so nothing in them may run code: ``weights_only=True`` refuses every pickled
global outside torch's tensor types. torch's own messages are written for developers: paragraphs with terminal
colour codes that advise ``weights_only=False`` (the opposite of what an untrusted file deserves), and the
legacy reader fails on foreign bytes with a bare ``KeyError``. The synthesizer, embedder and RMVPE loaders all
read through :func:`load_weights` and prefix its :class:`WeightsFileError` sentence with their file's path.

Weights-only loading keeps code out, not size: what a file declares is checked against what it holds before torch
allocates it (`rvc.torch_bounds`), and what it unpickled to is bounded before any caller walks or prints it
(`rvc.object_budget`).
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Iterable
from pathlib import Path

import torch

from rvc.object_budget import ObjectBudgetError, check_object_budget
from rvc.torch_bounds import DeclaredSizeError, UnreadableLayoutError, check_declared_sizes

REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
UNSUPPORTED_OPCODE = re.compile(r"Unsupported operand (\d+)")
TORCH_PREAMBLE = "Weights only load failed."
TORCH_DOCS = "Check the documentation"
ENFORCE_PREFIX = re.compile(r"^\[enforce fail at [^\]]*\]\s*\.?\s*")  # c10's "[enforce fail at file.cc:180] . "
UNREADABLE = "not a readable PyTorch file (truncated or another format)"
ALLOCATION_FAILED = "can't allocate memory"  # c10's CPU allocator, past the process's memory limit
OUT_OF_MEMORY = "loading it takes more memory than this process may use"


class WeightsFileError(ValueError):
    """A file that torch cannot or must not load; the message is the problem alone, the caller adds the path."""


def load_weights(path: str | os.PathLike, stand_ins: Iterable[tuple[object, str]] = ()) -> object:
    """``torch.load(path, weights_only=True)`` on the CPU, with ``(object, "module.Name")`` stand-ins admitted.

    Raises :class:`WeightsFileError` for a missing, empty, unreadable or refused file, and for one that declares
    more than it holds or holds a structure past `rvc.object_budget`'s bounds.
    """
    path = Path(path)
    check_file(path)
    try:
        with torch.serialization.safe_globals(list(stand_ins)):
            content = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise WeightsFileError(refusal(str(error))) from error
    except RuntimeError as error:  # the zip reader: a truncated archive, a zip that torch did not write
        if ALLOCATION_FAILED in str(error):
            raise WeightsFileError(OUT_OF_MEMORY) from error
        raise WeightsFileError(f"{UNREADABLE}: {first_sentence(str(error))}") from error
    except MemoryError as error:
        raise WeightsFileError(OUT_OF_MEMORY) from error
    except Exception as error:  # the legacy reader fails on foreign bytes with any type (KeyError, EOFError...)
        raise WeightsFileError(UNREADABLE) from error
    try:
        check_object_budget(content)
    except ObjectBudgetError as error:
        raise WeightsFileError(f"refused to load: {error}") from error
    return content


def check_file(path: Path) -> None:
    """What can be judged before unpickling: the file exists, is not empty, and declares no more than it holds."""
    if not path.is_file():
        raise WeightsFileError("file not found")
    if path.stat().st_size == 0:
        raise WeightsFileError("the file is empty (0 bytes)")
    try:
        check_declared_sizes(path)
    except OSError as error:
        raise WeightsFileError(f"cannot read the file ({error.strerror or error})") from error
    except UnreadableLayoutError as error:
        raise WeightsFileError(f"{UNREADABLE}: {error}") from error
    except DeclaredSizeError as error:
        raise WeightsFileError(f"refused to load: {error}") from error


def refusal(message: str) -> str:
    """The sentence for torch's weights-only refusal ``message``: the code the file wanted to call, if it named any."""
    names = sorted(set(REFUSED_GLOBAL.findall(message)))
    if names:
        return (f"refused to load: its pickle would call {', '.join(names)}, which a file of model weights never "
                "needs (another kind of file, or a malicious one; nothing was run)")
    opcode = UNSUPPORTED_OPCODE.search(message)
    if opcode:
        return f"{UNREADABLE}: not a weights-only pickle (opcode {opcode.group(1)}; a plain pickle, or other bytes)"
    # torch wraps the unpickler's own sentence in paragraphs of advice: keep that sentence only.
    paragraphs = [text.strip() for text in message.split("\n\n")]
    reason = next((text for text in paragraphs[1:] if text and not text.startswith(TORCH_DOCS)), paragraphs[0])
    return f"refused to load: {first_sentence(reason.removeprefix(TORCH_PREAMBLE))}"


def first_sentence(message: str) -> str:
    """The first line of ``message`` up to its first full stop, without c10's source location."""
    line = ENFORCE_PREFIX.sub("", message.strip()).split("\n")[0]
    return line.split(". ")[0].rstrip(".")
