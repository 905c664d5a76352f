"""The layer rule of DESIGN.md, enforced by reading every import in the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import PROJECT_ROOT


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def python_files(folder: str) -> list[Path]:
    files = sorted((PROJECT_ROOT / folder).rglob("*.py"))
    assert files, f"no Python files under {folder}/"
    return files


def test_library_never_imports_gradio_or_tabs():
    offenders = {
        str(path.relative_to(PROJECT_ROOT)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] in {"gradio", "tabs", "webui"}
        )
        for path in python_files("rvc")
    }
    assert {file: names for file, names in offenders.items() if names} == {}


def test_tabs_reach_rvc_only_through_service():
    allowed = ("rvc.service",)
    offenders = {}
    for path in python_files("tabs"):
        bad = [name for name in imported_modules(path) if name.split(".")[0] == "rvc" and not name.startswith(allowed)]
        if bad:
            offenders[str(path.relative_to(PROJECT_ROOT))] = sorted(bad)
    assert offenders == {}


# The layers above the engine: the service functions and the front ends over them (CLI, REST API).
SERVICE_AND_FRONT_ENDS = ("rvc/service/", "rvc/api/", "rvc/cli/", "rvc/__main__.py")


def test_engine_modules_never_import_the_service_layer():
    """Imports point down only: the engine (the inference worker included) never reaches up into rvc.service."""
    offenders = {}
    for path in python_files("rvc"):
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        if relative.startswith(SERVICE_AND_FRONT_ENDS):
            continue
        bad = [name for name in imported_modules(path) if name == "rvc.service" or name.startswith("rvc.service.")]
        if bad:
            offenders[relative] = sorted(bad)
    assert offenders == {}


def test_tabs_touch_no_torch_or_sql():
    forbidden = {"torch", "sqlite3", "faiss"}
    offenders = {
        str(path.relative_to(PROJECT_ROOT)): sorted(n for n in imported_modules(path) if n.split(".")[0] in forbidden)
        for path in python_files("tabs")
    }
    assert {file: names for file, names in offenders.items() if names} == {}


def test_the_checker_sees_violations(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text("import gradio as gr\nfrom rvc.synth import load_synthesizer\nfrom rvc import service\n")
    assert imported_modules(sample) == {"gradio", "rvc.synth.load_synthesizer", "rvc.service"}
