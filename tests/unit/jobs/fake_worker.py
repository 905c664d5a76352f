"""`rvc.jobs.worker` with a stand-in for the conversion: the real request loop, no models.

The request's params steer it: {"sleep": S} takes S seconds, {"fail": "why"} raises, {"crash": true} dies
at once (like a segfault). Each result says which process served it and how many requests that process has
served, so tests can see the worker being kept, or replaced after a crash.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from rvc.events import EventSink
from rvc.jobs.worker import main

COMMAND = [sys.executable, "-m", "tests.unit.jobs.fake_worker"]
served = 0


def fake_convert(request: dict[str, Any], sink: EventSink, device: str) -> dict[str, Any]:
    global served
    params = request.get("params") or {}
    print("a library printing on stdout", flush=True)
    sink.progress("convert", 0, 1)
    if params.get("crash"):
        print("fatal: about to crash", file=sys.stderr, flush=True)
        os._exit(139)
    if params.get("fail"):
        raise ValueError(params["fail"])
    time.sleep(float(params.get("sleep", 0)))
    served += 1
    sink.progress("convert", 1, 1)
    return {"output_path": request.get("output_path"), "worker_pid": os.getpid(), "served": served, "device": device}


if __name__ == "__main__":
    sys.exit(main(handle=fake_convert))
