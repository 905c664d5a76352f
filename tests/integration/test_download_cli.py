"""`python -m rvc download` as a real process against a fake hub in this process, never huggingface.co.

The files come from a user manifest (`RVC_HOME/assets/manifest.json`), the documented way to add files, so the
test needs no hook in the production code and no 180 MB download.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from tests.conftest import PROJECT_ROOT
from tests.unit.assets.fake_hub import FakeHub

GOOD = bytes(range(256)) * 40
REPO = "someone/tiny-models"


def run_download(home, *args: str) -> tuple[int, list[dict]]:
    env = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "RVC_HF_ENDPOINT")}
    env.update(RVC_HOME=str(home), NO_PROXY="127.0.0.1,localhost")
    process = subprocess.run(
        [sys.executable, "-m", "rvc", "download", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    events = [json.loads(line) for line in process.stdout.splitlines() if line.startswith("{")]
    return process.returncode, events


def write_manifest(home) -> None:
    entry = {"repo_id": REPO, "size_bytes": len(GOOD), "sha256": hashlib.sha256(GOOD).hexdigest()}
    entries = [
        {**entry, "name": "extra/good", "filename_in_repo": "good.bin", "local_path": "extra/good.bin"},
        {**entry, "name": "extra/bad", "filename_in_repo": "bad.bin", "local_path": "extra/bad.bin"},
    ]
    (home / "assets").mkdir(parents=True)
    (home / "assets" / "manifest.json").write_text(json.dumps({"assets": entries}))


def test_download_command_reports_progress_failures_and_skips(tmp_path):
    write_manifest(tmp_path)
    with FakeHub() as hub:
        hub.add(REPO, "good.bin", GOOD)
        hub.add(REPO, "bad.bin", GOOD[::-1])
        code, events = run_download(tmp_path, "extra", "--endpoint", hub.endpoint)
        again_code, again = run_download(tmp_path, "extra/good", "--endpoint", hub.endpoint)
        fetched = [request.path for request in hub.gets()]

    good_path = tmp_path / "assets" / "extra" / "good.bin"
    assert code == 1
    assert good_path.read_bytes() == GOOD
    assert sorted(path.name for path in good_path.parent.iterdir()) == ["good.bin"]
    progress = [event for event in events if event["type"] == "progress" and event["message"] == "extra/good"]
    assert progress[-1]["done"] == progress[-1]["total"] == len(GOOD)
    errors = [event["message"] for event in events if event["type"] == "error"]
    assert any("extra/bad" in message and "sha256" in message for message in errors)
    assert events[-1]["type"] == "result" and events[-1]["status"] == "failed"
    assert events[-1]["data"]["downloaded"] == {"extra/good": str(good_path)}
    assert list(events[-1]["data"]["failed"]) == ["extra/bad"]

    assert again_code == 0
    assert again[-1] == {
        "type": "result", "status": "completed",
        "data": {"downloaded": {}, "skipped": {"extra/good": str(good_path)}, "failed": {}},
    }
    assert fetched == [f"/{REPO}/resolve/main/good.bin", f"/{REPO}/resolve/main/bad.bin"]


def test_download_command_rejects_an_unknown_name(tmp_path):
    code, events = run_download(tmp_path, "no-such-file", "--endpoint", "http://127.0.0.1:9")
    assert code == 2
    assert events[-1]["type"] == "error" and "hubert_base" in events[-1]["message"]
