"""A server that dies without cleaning up: `python -m tests.unit.jobs.crashing_server RVC_HOME`.

It starts a runner (one CPU slot), submits a long job and a second one that has to wait, prints their ids as
JSON once the first runs, then sleeps until the test kills it with SIGKILL.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from rvc.config import Paths
from rvc.jobs import JobRunner, JobStore, TaskStatus
from tests.unit.jobs.fake_job import COMMAND

if __name__ == "__main__":
    paths = Paths(Path(sys.argv[1]))
    runner = JobRunner(JobStore(paths.database), paths, command=COMMAND).start()
    running = runner.submit("train", ["sleep:60"], {"experiment": "bob"})
    queued = runner.submit("index", ["result:completed"])
    while runner.get(running).status is not TaskStatus.RUNNING:
        time.sleep(0.02)
    print(json.dumps({"running": running, "queued": queued}), flush=True)
    time.sleep(60)
