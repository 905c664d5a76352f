"""Tabs' callbacks against an in-memory service (see fake_service)."""

from __future__ import annotations

import pytest

from tests.unit.tabs.fake_service import FakeService, install


@pytest.fixture()
def fake(monkeypatch, tmp_path) -> FakeService:
    monkeypatch.setenv("RVC_HOME", str(tmp_path / "home"))
    return install(monkeypatch, FakeService())
