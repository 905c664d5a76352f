"""The names every layer shares, in one place: pitch methods, model versions and rates, output formats, presets.

Plain data with no imports, so that settings, the CLI and the API can check a name without loading torch. The
modules that implement the names check that they implement exactly these (the f0 registry, the audio writer, the
synthesizer's config), so a name added here without its implementation fails at import, not at a user's request.
"""

from __future__ import annotations

import re

F0_METHODS: tuple[str, ...] = ("pm", "harvest", "dio", "crepe", "crepe-tiny", "fcpe", "rmvpe")
"""The ecosystem's ``f0_method`` names (`rvc.f0.registry` builds one extractor for each)."""

VERSIONS: tuple[str, ...] = ("v1", "v2")
"""Model versions: v1 reads 256-d content features, v2 768-d."""

SAMPLE_RATES: tuple[str, ...] = ("32k", "40k", "48k")
"""A model's sample rate as the ecosystem names it (the original's config files are named after it)."""

OUTPUT_FORMATS: tuple[str, ...] = ("wav", "flac", "mp3", "m4a")
"""What a conversion writes (`rvc.audio.write_audio`)."""

ONECLICK_PRESETS: tuple[str, ...] = ("fast", "standard", "high")
"""One click's presets (their epochs, batch size and pitch method: `rvc.service.oneclick.PRESETS`)."""

DEVICE_NAME = re.compile(r"^(cpu|mps|(cuda|xpu):\d+)$")
"""A torch device a conversion may be given: "cpu", "cuda:N", "xpu:N", "mps" (`rvc.devices`)."""

TASK_KINDS: tuple[str, ...] = ("inference", "preprocess", "extract", "train", "index", "export", "oneclick", "import",
                               "download", "merge", "onnx", "info")
"""What a task runs: a conversion, a training step, or a model tool (each is a `python -m rvc` command)."""

AUTO_DEVICES = "auto"
"""The devices of a step by default: every GPU when the machine has any, else the CPU."""
