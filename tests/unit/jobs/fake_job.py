"""A stand-in for `python -m rvc COMMAND`: runs the actions given as arguments, in order, speaking the job
event protocol, so the runner is tested with real processes but without models.

    python -m tests.unit.jobs.fake_job progress:3 print:hello stderr:oops result:completed exit:0

progress:N  N progress events          metric:N      N metric events (steps 0..N-1)
print:TEXT  plain text on stdout       stderr:TEXT   a line on stderr
error:TEXT  an error event             sleep:S       sleep S seconds
child:FILE  start a sleeping child in this process group; write "<own pid> <child pid>" to FILE
ignore-term ignore SIGTERM from now on
lifeline    watch the server's lifeline, as `python -m rvc` does (`rvc.jobs.lifeline`)
train:EXP:N N training steps (a metric each); stop with a "paused" result once logs/EXP/pause.request exists
result:STATUS  a result event whose data holds this process's start and end times
exit:CODE   exit now with CODE
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rvc.jobs.lifeline import watch_parent

COMMAND = [sys.executable, "-m", "tests.unit.jobs.fake_job"]  # what a test runner uses instead of `python -m rvc`
STARTED = time.time()


def emit(**event: object) -> None:
    print(json.dumps(event), flush=True)


def result(status: str) -> None:
    emit(type="result", status=status, data={"began": STARTED, "ended": time.time(), "pid": os.getpid()})


def train(experiment: str, steps: int) -> None:
    request = Path(os.environ["RVC_HOME"]) / "logs" / experiment / "pause.request"
    for step in range(steps):
        emit(type="metric", step=step, epoch=step // 10, loss_g=30.0 - step * 0.1, loss_d=3.0)
        if request.exists():
            result("paused")
            sys.exit(0)
        time.sleep(0.02)


def run(action: str) -> None:
    name, _, value = action.partition(":")
    if name == "progress":
        for done in range(1, int(value) + 1):
            emit(type="progress", stage="fake", done=done, total=int(value), message=f"item {done}")
    elif name == "metric":
        for step in range(int(value)):
            emit(type="metric", step=step, epoch=0, loss_g=1.0 / (step + 1), lr=1e-4)
    elif name == "print":
        print(value, flush=True)
    elif name == "stderr":
        print(value, file=sys.stderr, flush=True)
    elif name == "error":
        emit(type="error", message=value, detail="")
    elif name == "sleep":
        time.sleep(float(value))
    elif name == "child":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        Path(value).write_text(f"{os.getpid()} {child.pid}")
    elif name == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif name == "lifeline":
        watch_parent()
    elif name == "train":
        experiment, _, steps = value.partition(":")
        train(experiment, int(steps))
    elif name == "result":
        result(value)
    elif name == "exit":
        sys.exit(int(value))
    else:
        raise SystemExit(f"unknown action {action!r}")


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        run(argument)
