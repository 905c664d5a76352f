"""An RVC home with models in place, shared by the end-to-end tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.factories import tiny_pth, write_small_embedder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def rvc_home(tmp_path_factory) -> Path:
    """RVC_HOME with the tiny v2 40k model as `assets/weights/tiny.pth` and a thin embedder."""
    home = tmp_path_factory.mktemp("rvc_home")
    weights = home / "assets" / "weights"
    weights.mkdir(parents=True)
    shutil.copy(tiny_pth("tiny_v2_f0_40k"), weights / "tiny.pth")
    write_small_embedder(home / "embedder")
    return home


@pytest.fixture()
def home_env(rvc_home: Path, monkeypatch) -> dict[str, str]:
    """The environment of a process that uses ``rvc_home`` (also applied to this test process)."""
    env = {"RVC_HOME": str(rvc_home), "RVC_EMBEDDER": str(rvc_home / "embedder")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return dict(os.environ, **env)


def start_webui(env: dict[str, str], *args: str) -> tuple[subprocess.Popen, str]:
    """Run `webui.py` as a real server on a free loopback port; return the process and its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "webui.py", "--port", str(port), *args],
        cwd=PROJECT_ROOT,
        env=dict(env, GRADIO_ANALYTICS_ENABLED="False"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"webui.py exited early:\n{process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise RuntimeError("webui.py did not answer within 120 s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
