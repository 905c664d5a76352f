"""The README's WebUI command really serves the app, and gradio_client reaches its named endpoints."""

from __future__ import annotations

import os
import urllib.request

import pytest

from tests.integration.conftest import start_webui, stop


@pytest.fixture(scope="module")
def webui_url(tmp_path_factory):
    process, url = start_webui(dict(os.environ, RVC_HOME=str(tmp_path_factory.mktemp("home"))))
    yield url
    stop(process)


def test_page_is_served(webui_url):
    with urllib.request.urlopen(webui_url, timeout=10) as response:
        assert "RVC WebUI" in response.read().decode()


def test_system_info_through_gradio_client(webui_url):
    from gradio_client import Client

    info = Client(webui_url, verbose=False).predict(api_name="/system_info")
    assert info["cpu_count"] >= 1
    assert info["memory_total_mb"] > 0
    assert isinstance(info["gpus"], list)
