"""The README's WebUI command really serves the app, and gradio_client reaches its named endpoints."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def webui_url(tmp_path_factory):
    port = free_port()
    env = dict(os.environ, RVC_HOME=str(tmp_path_factory.mktemp("home")), GRADIO_ANALYTICS_ENABLED="False")
    process = subprocess.Popen(
        [sys.executable, "webui.py", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"webui.py exited early:\n{process.stdout.read()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("webui.py did not answer within 120 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_page_is_served(webui_url):
    with urllib.request.urlopen(webui_url, timeout=10) as response:
        assert "RVC WebUI" in response.read().decode()


def test_system_info_through_gradio_client(webui_url):
    from gradio_client import Client

    info = Client(webui_url, verbose=False).predict(api_name="/system_info")
    assert info["cpu_count"] >= 1
    assert info["memory_total_mb"] > 0
    assert isinstance(info["gpus"], list)
