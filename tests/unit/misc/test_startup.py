"""What a converting process pays before it is ready: the slow libraries wait until they are needed, and models are
built as shapes only (no initialisation, no meta kernels that import sympy)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

import torch
from torch import nn

from rvc.empty_modules import empty_modules
from rvc.synth.layers import fold_weight_norm, weight_norm
from tests.conftest import PROJECT_ROOT

SLOW_LIBRARIES = ("transformers", "scipy.signal", "sympy")


def _modules_loaded_after(code: str) -> list[str]:
    report = f"import sys, json; print(json.dumps([m for m in {SLOW_LIBRARIES!r} if m in sys.modules]))"
    output = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + "\n" + report],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(output.splitlines()[-1])


def test_importing_the_service_leaves_the_slow_libraries_for_later():
    assert _modules_loaded_after("import rvc.service") == []


def test_building_a_full_size_synthesizer_as_shapes_imports_nothing_slow():
    code = """
        from rvc.empty_modules import empty_modules
        from rvc.synth.presets import preset_config
        from rvc.synth.synthesizer import Synthesizer
        with empty_modules():
            model = Synthesizer(preset_config("v2", "40k", True))
        assert all(p.is_meta for p in model.parameters())
    """
    assert _modules_loaded_after(code) == []


def test_modules_built_as_shapes_have_no_values_and_others_are_initialised():
    with empty_modules():
        declared = nn.Embedding(8, 4)
        in_another_thread: list[nn.Embedding] = []
        worker = threading.Thread(target=lambda: in_another_thread.append(nn.Embedding(8, 4)))
        worker.start()
        worker.join()
    assert declared.weight.is_meta and declared.weight.shape == (8, 4)
    assert not in_another_thread[0].weight.is_meta and in_another_thread[0].weight.std() > 0.5  # normal_ ran
    assert nn.Embedding(8, 4).weight.std() > 0.5  # and outside the block as usual


def test_weight_norm_declared_on_meta_has_torchs_names_shapes_and_weight():
    for make in (lambda: nn.Conv1d(6, 4, 3), lambda: nn.ConvTranspose1d(6, 4, 5)):
        reference = weight_norm(make())
        with empty_modules():
            declared = weight_norm(make())
        assert [(k, v.shape) for k, v in declared.state_dict().items()] == [
            (k, v.shape) for k, v in reference.state_dict().items()
        ]
        declared.load_state_dict(reference.state_dict(), assign=True)
        probe = torch.randn(1, 6, 20)
        torch.testing.assert_close(declared(probe), reference(probe))
        torch.testing.assert_close(fold_weight_norm(declared)(probe), reference(probe))
