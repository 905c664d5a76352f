"""Where things live: one place for the runtime folders, movable with the `RVC_HOME` environment variable."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Paths:
    """The runtime folders of DESIGN.md under one home directory."""

    home: Path

    @property
    def assets(self) -> Path:
        return self.home / "assets"

    @property
    def weights(self) -> Path:
        return self.assets / "weights"

    @property
    def indices(self) -> Path:
        return self.assets / "indices"

    @property
    def pretrained(self) -> Path:
        return self.assets / "pretrained"

    @property
    def hubert(self) -> Path:
        return self.assets / "hubert"

    @property
    def rmvpe(self) -> Path:
        return self.assets / "rmvpe"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def uploads(self) -> Path:
        return self.home / "uploads"

    @property
    def database(self) -> Path:
        return self.logs / "webui.db"


def embedder_override() -> Path | None:
    """`RVC_EMBEDDER`: a HuBERT/ContentVec file or Hugging Face folder used instead of `hubert_base.pt`."""
    value = os.environ.get("RVC_EMBEDDER")
    return Path(value) if value else None


def get_paths() -> Paths:
    """The folders for this process: `RVC_HOME` when set, else the project root."""
    return Paths(Path(os.environ.get("RVC_HOME", PROJECT_ROOT)).resolve())
