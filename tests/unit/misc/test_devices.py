"""Accelerators beyond CUDA: Intel XPU and Apple MPS are found, chosen and named like CUDA GPUs, with fp32 on MPS.

This machine has neither, so torch's availability answers are stood in for; what runs on each is torch's own code.
"""

from __future__ import annotations

import pytest
import torch

from rvc import devices
from rvc.jobs.runner import device_of
from rvc.settings import Settings, SettingsError
from tabs import system


class FakeXpu:
    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def device_count() -> int:
        return 2

    @staticmethod
    def get_device_name(index: int) -> str:
        return f"Intel Arc A770 #{index}"


@pytest.fixture
def xpu_and_mps(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch, "xpu", FakeXpu, raising=False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    devices.accelerators.cache_clear()
    yield
    devices.accelerators.cache_clear()


def test_this_cpu_machine_has_no_accelerator() -> None:
    devices.accelerators.cache_clear()
    assert devices.accelerators() == ()
    assert devices.default_device() == torch.device("cpu")
    assert devices.default_dtype("cpu") == torch.float32


def test_xpu_and_mps_are_listed_and_the_first_accelerator_is_the_default(xpu_and_mps: None) -> None:
    assert [a.device for a in devices.accelerators()] == ["xpu:0", "xpu:1", "mps"]
    assert devices.accelerators()[1].name == "Intel Arc A770 #1"
    assert devices.default_device() == torch.device("xpu:0")


@pytest.mark.parametrize(("device", "dtype"), [("cuda:0", torch.float16), ("xpu:1", torch.float16),
                                               ("mps", torch.float32), ("cpu", torch.float32)])
def test_half_precision_only_where_it_is_safe(device: str, dtype: torch.dtype) -> None:
    assert devices.default_dtype(device) == dtype


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda:0", "xpu:1", "mps"])
def test_settings_accept_every_device_name(device: str) -> None:
    assert Settings(device=device).validate().device == device


@pytest.mark.parametrize("device", ["tpu", "cuda", "xpu", "mps:0", "gpu:0"])
def test_settings_refuse_other_names_naming_the_valid_ones(device: str) -> None:
    with pytest.raises(SettingsError, match="'cuda:N', 'xpu:N' or 'mps'"):
        Settings(device=device).validate()


@pytest.mark.parametrize(("resource", "device"), [("gpu:1", "cuda:1"), ("xpu:0", "xpu:0"), ("mps", "mps"),
                                                  ("cpu", "cpu")])
def test_job_resources_map_to_torch_devices(resource: str, device: str) -> None:
    assert device_of(resource) == device


def test_conversions_go_to_the_first_accelerator_by_default(xpu_and_mps: None, monkeypatch) -> None:
    from rvc.service import jobs

    monkeypatch.setattr(jobs, "load_settings", lambda: Settings(device="auto"))
    assert jobs.conversion_resource() == "xpu:0"
    monkeypatch.setattr(jobs, "load_settings", lambda: Settings(device="mps"))
    assert jobs.conversion_resource() == "mps"
    monkeypatch.setattr(jobs, "load_settings", lambda: Settings(device="cuda:1"))
    assert jobs.conversion_resource() == "gpu:1"


def test_system_info_and_tab_list_them(xpu_and_mps: None) -> None:
    from rvc.system import system_info

    info = system_info().to_dict()
    assert [a["device"] for a in info["accelerators"]] == ["xpu:0", "xpu:1", "mps"]
    text = system.system_markdown(info)
    assert "| xpu:1 | Intel Arc A770 #1 |" in text and "| mps | Apple GPU (Metal) |" in text
    assert "none found" not in text
