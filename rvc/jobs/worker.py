"""The inference worker: `python -m rvc.jobs.worker --device cpu`, one long-lived process per device.

It reads one JSON request per line on stdin::

    {"task_id": "...", "input_path": "...", "model": "...", "output_path": "...", "params": {...},
     "index": "auto" | null | "path", "output_format": "wav"}

and writes the job event protocol on stdout, every event tagged with its "task_id", ending each request with a
"result" event (and a marker line on stderr). Models stay loaded between requests (`rvc.service`'s process-wide
cache), which is the point of keeping the process alive; a crash loses only the request in hand, and the runner
starts a new worker.
It is not a `python -m rvc` command because only the runner talks to it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TextIO

from rvc.events import EventSink
from rvc.jobs.lifeline import watch_parent
from rvc.jobs.process import END_OF_REQUEST

# (request, sink for its events, device) -> the result's data
Handler = Callable[[dict[str, Any], EventSink, str], dict[str, Any]]


class TaskSink(EventSink):
    """An `EventSink` whose events name the task they belong to."""

    def __init__(self, stream: TextIO, task_id: str) -> None:
        super().__init__(stream, json_lines=True)
        self.task_id = task_id

    def emit(self, event: dict[str, Any]) -> None:
        super().emit({"task_id": self.task_id, **event})


def convert_request(request: dict[str, Any], sink: EventSink, device: str) -> dict[str, Any]:
    """One conversion through `rvc.infer.converter.convert`; the result says how many model loads the cache has
    done. The request was checked (paths confined, parameters validated) by the service that queued it."""
    from rvc.infer import converter  # here, not at the top: torch loads once the worker has something to do

    result = converter.convert(
        request["input_path"], request["model"], request.get("output_path"), request.get("params"),
        request.get("index", converter.AUTO_INDEX), request.get("output_format"), device, progress=sink.progress,
    )
    sink.artifact("audio", result["output_path"])
    if request.get("f0_curves"):  # the Inference tab's plot, tracked here with the worker's cached extractor
        method = (request.get("params") or {}).get("f0_method") or converter.ConvertParams().f0_method
        result["f0_curves"] = converter.f0_curves(request["input_path"], result["output_path"], method,
                                                  device=device)
    return result | {"cache_loads": converter.model_cache(device).loads, "worker_pid": os.getpid()}


def serve(handle: Handler, device: str, requests: TextIO, events: TextIO) -> None:
    """Answer requests until stdin closes; a request that fails reports its error and the worker goes on."""
    for line in requests:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            task_id = str(request["task_id"])
        except (ValueError, KeyError, TypeError):
            print(f"ignoring a request that is not a JSON object with a task_id: {line.strip()[:200]}", file=sys.stderr)
            continue
        sink = TaskSink(events, task_id)
        try:
            data = handle(request, sink, device)
        except Exception as error:  # the worker outlives a bad request; the runner marks the task failed
            sink.error(f"{type(error).__name__}: {error}", traceback.format_exc())
            sink.result({}, status="failed")
        else:
            sink.result(data)
        print(END_OF_REQUEST + task_id, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None, handle: Handler = convert_request) -> int:
    parser = argparse.ArgumentParser(prog="python -m rvc.jobs.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda:N, xpu:N or mps")
    args = parser.parse_args(argv)
    watch_parent()  # a worker whose server died stops at once instead of finishing its file for no one
    # The protocol gets a private copy of stdout; fd 1 then points at stderr, so whatever a library prints
    # becomes log text instead of breaking a JSON line.
    events = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(handle, args.device, sys.stdin, events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
