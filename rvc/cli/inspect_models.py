"""`python -m rvc inspect PATH...`: what each model file is, one JSON line per file, in the order given.

The server never parses a model file from a stranger in its own process: it lists models through this command
(`rvc.jobs.model_inspection`), run in a child with a memory limit and a time limit, so a file that exhausts the
memory, crashes the reader or takes forever costs that child and not the server. Each line is
``{"path": ..., "info": {...}}`` (`rvc.synth.tools.model_info`) or ``{"path": ..., "error": "<one sentence>"}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rvc.memory import limit_data_memory
from rvc.safe_load import OUT_OF_MEMORY
from rvc.synth import CheckpointError
from rvc.synth.tools import model_info


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="model files (.pth)")
    parser.add_argument("--memory-mb", type=int, default=None,
                        help="fail any allocation past this many MB above what the command holds once started")


def run(args: argparse.Namespace) -> int:
    if args.memory_mb is not None:
        limit_data_memory(args.memory_mb)
    for path in args.paths:
        sys.stdout.write(json.dumps(inspect_file(path, args.memory_mb)) + "\n")
        sys.stdout.flush()  # the caller times each file by its line
    return 0


def inspect_file(path: Path, memory_mb: int | None) -> dict[str, Any]:
    try:
        return {"path": str(path), "info": model_info(path)}
    except (CheckpointError, OSError) as error:
        return {"path": str(path), "error": str(error)}
    except MemoryError:  # past the limit outside torch.load (which says so as a CheckpointError)
        return {"path": str(path), "error": f"{path}: {OUT_OF_MEMORY} ({memory_mb} MB)"}
