"""Set-up time of a fresh clone: `./run.sh setup` (what `./run.sh webui` and `./run.sh test` do first) from nothing.

    python3 benchmarks/bench_setup.py [--rounds 2] [--ref HEAD]

Each round clones ``--ref`` of this repository into a new folder and times `./run.sh setup` twice: **cold**, with
a new empty uv cache and pip's cache off (every wheel downloaded, uv itself included), then **warm**, in a second
fresh clone with the cache the cold run filled (what a second checkout, or CI on a kept machine, pays). Cold minus
warm is the time spent fetching into the cache (downloads and unpacking); the bytes received over the network
during the cold run are read from /proc/net/dev (the whole machine's: run it when nothing else downloads). Each
clone's .venv is then checked against uv.lock (`uv sync --locked --check`) and `uv pip freeze` against
`uv export`. Needs only python3 with pip, git and the network to the package registry; uses no .venv.
Prints the seconds per round and the medians.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKERS_HOLD = """
import sys
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
for line in sys.stdin.read().splitlines():
    requirement = Requirement(line)
    if requirement.marker is None or requirement.marker.evaluate():
        print(f"{canonicalize_name(requirement.name)}{requirement.specifier}")
"""


def received_bytes() -> int:
    """Bytes received by every network interface but loopback so far."""
    total = 0
    for line in Path("/proc/net/dev").read_text().splitlines()[2:]:
        name, counters = line.split(":", 1)
        if name.strip() != "lo":
            total += int(counters.split()[0])
    return total


def clone(ref: str, into: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(into)], check=True)
    subprocess.run(["git", "-C", str(into), "checkout", "--quiet", ref], check=True)
    return into


def timed_setup(checkout: Path, cache: Path) -> tuple[float, str]:
    env = {**os.environ, "UV_CACHE_DIR": str(cache), "PIP_NO_CACHE_DIR": "1"}
    start = time.perf_counter()
    result = subprocess.run(["./run.sh", "setup"], cwd=checkout, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"./run.sh setup failed in {checkout}:\n{result.stdout}{result.stderr}")
    return seconds, result.stderr.strip()


def check_against_lock(checkout: Path, cache: Path) -> str:
    uv = next((checkout / ".tools").glob("uv-*/bin/uv"))
    env = {**os.environ, "UV_CACHE_DIR": str(cache)}
    subprocess.run([uv, "sync", "--locked", "--check", "--quiet"], cwd=checkout, env=env, check=True)

    def requirement_lines(*argv: str) -> set[str]:
        out = subprocess.run([uv, *argv], cwd=checkout, env=env, check=True, capture_output=True, text=True).stdout
        return {line.strip() for line in out.splitlines() if line.strip() and not line.startswith(("#", "-e", " "))}

    frozen = {re.sub(r"[-_.]+", "-", name.lower()) + "==" + version for name, version in (
        line.split("==") for line in requirement_lines("pip", "freeze", "--python", ".venv/bin/python",
                                                       "--exclude-editable"))}
    exported = requirement_lines("export", "--frozen", "--no-hashes", "--no-emit-project", "--no-header",
                                 "--no-annotate")
    locked = set(subprocess.run(  # the lock's lines whose markers hold for .venv's interpreter
        [".venv/bin/python", "-c", MARKERS_HOLD], input="\n".join(exported), cwd=checkout, check=True,
        capture_output=True, text=True).stdout.split())
    if frozen != locked:
        sys.exit(f"{checkout}/.venv differs from uv.lock: installed only {sorted(frozen - locked)}, "
                 f"locked only {sorted(locked - frozen)}")
    return f"{len(frozen)} packages, `uv pip freeze` == `uv export` of the lock"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ref", default="HEAD", help="the commit to clone (default HEAD: commit first)")
    args = parser.parse_args()
    ref = subprocess.run(["git", "-C", str(ROOT), "rev-parse", args.ref], check=True, capture_output=True,
                         text=True).stdout.strip()
    print(f"set-up of {ref[:10]} on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    cold, warm, fetched = [], [], []
    for round_number in range(1, args.rounds + 1):
        work = Path(tempfile.mkdtemp(prefix="bench-setup-"))
        try:
            cache = work / "uv-cache"
            before = received_bytes()
            seconds, stages = timed_setup(clone(ref, work / "cold"), cache)
            cold.append(seconds)
            fetched.append((received_bytes() - before) / 2**20)
            print(f"round {round_number} cold: {seconds:6.1f} s, {fetched[-1]:,.0f} MB received\n    "
                  + stages.replace("\n", "\n    "))
            seconds, stages = timed_setup(clone(ref, work / "warm"), cache)
            warm.append(seconds)
            print(f"round {round_number} warm: {seconds:6.1f} s\n    " + stages.replace("\n", "\n    "))
            print(f"    {check_against_lock(work / 'warm', cache)}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    cold_s, warm_s = statistics.median(cold), statistics.median(warm)
    print(f"median of {args.rounds}: cold {cold_s:.1f} s (of which fetching into the cache {cold_s - warm_s:.1f} s, "
          f"{statistics.median(fetched):,.0f} MB), warm {warm_s:.1f} s")


if __name__ == "__main__":
    main()
