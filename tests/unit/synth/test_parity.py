"""The tiny reference synthesizers: every recorded array reproduced from the deterministic weight rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rvc.synth import Synthesizer, SynthesizerConfig, load_synthesizer
from rvc.synth.nsf import SineGenerator
from rvc.weight_rule import rule_state_dict
from tests.conftest import REFERENCE_DIR, load_reference_json, load_reference_npz

CASES = ["tiny_v2_f0_40k", "tiny_v2_nof0_40k", "tiny_v1_f0_40k", "tiny_v1_nof0_40k", "tiny_v2_f0_32k"]
ATOL, RTOL = 1e-5, 1e-4  # the reference README's suggestion for an fp32 re-implementation


def assert_close(actual: torch.Tensor, expected: np.ndarray, atol: float = ATOL, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(actual.detach().numpy(), expected, atol=atol, rtol=rtol)


class TinyCase:
    def __init__(self, name: str) -> None:
        self.name = name
        self.meta = load_reference_json(f"{name}.json")
        self.arrays = load_reference_npz(f"{name}.npz")
        self.config = SynthesizerConfig.from_list(self.meta["config"], self.meta["version"], self.meta["f0"])
        self.model = Synthesizer(self.config).eval()
        state = rule_state_dict(self.meta["keys"], self.meta["seed"], self.meta["scale"])
        self.model.load_state_dict(state, strict=True)

    def tensor(self, key: str) -> torch.Tensor:
        return torch.from_numpy(self.arrays[key])

    @property
    def pitch(self) -> torch.Tensor | None:
        return self.tensor("pitch") if self.config.f0 else None

    @property
    def nsff0(self) -> torch.Tensor | None:
        return self.tensor("nsff0") if self.config.f0 else None


@pytest.fixture(scope="module", params=CASES)
def case(request) -> TinyCase:
    return TinyCase(request.param)


@torch.no_grad()
def test_speaker_embedding(case: TinyCase):
    assert_close(case.model.speaker_embedding(case.tensor("sid")), case.arrays["g"])


@torch.no_grad()
@pytest.mark.parametrize("variant", ["", "len14_", "short_"])
def test_prior_encoder(case: TinyCase, variant: str):
    phone = case.tensor("phone_short" if variant == "short_" else "phone")
    frames = phone.shape[1]
    pitch = case.pitch[:, :frames] if case.pitch is not None else None
    lengths = torch.tensor([14 if variant == "len14_" else frames])
    m_p, logs_p, x_mask = case.model.enc_p(phone, pitch, lengths)
    assert_close(m_p, case.arrays[f"encp_{variant}m_p"])
    assert_close(logs_p, case.arrays[f"encp_{variant}logs_p"])
    assert_close(x_mask, case.arrays[f"encp_{variant}x_mask"])


@torch.no_grad()
@pytest.mark.parametrize("reverse", [True, False])
def test_flow(case: TinyCase, reverse: bool):
    z = case.tensor("z_p_in")
    g = case.tensor("g")
    out = case.model.flow(z, torch.ones(1, 1, z.shape[2]), g=g, reverse=reverse)
    assert_close(out, case.arrays["flow_rev_out" if reverse else "flow_fwd_out"])


@torch.no_grad()
def test_decoder_and_intermediates(case: TinyCase):
    dec = case.model.dec
    captured: dict[str, torch.Tensor] = {}
    modules = {"dec_conv_pre_out": dec.conv_pre, "dec_cond_out": dec.cond}
    modules |= {f"dec_ups{i}_out": up for i, up in enumerate(dec.ups)}
    if case.config.f0:
        modules |= {f"dec_noise_convs{i}_out": conv for i, conv in enumerate(dec.noise_convs)}
    hooks = [
        module.register_forward_hook(lambda _m, _i, out, key=key: captured.__setitem__(key, out))
        for key, module in modules.items()
    ]
    try:
        out = dec(case.tensor("z_in"), case.nsff0, g=case.tensor("g"), deterministic=True)
    finally:
        for hook in hooks:
            hook.remove()
    assert_close(out, case.arrays["dec_out"])
    recorded = [key for key in captured if key in case.arrays]
    assert {"dec_conv_pre_out", "dec_cond_out", "dec_ups0_out"} <= set(recorded)
    for key in recorded:
        assert_close(captured[key], case.arrays[key])


@torch.no_grad()
def test_sine_source(case: TinyCase):
    if not case.config.f0:
        assert not hasattr(case.model.dec, "m_source")
        return
    source = case.model.dec.m_source
    sine, uv = source.l_sin_gen(case.nsff0, case.config.hop_length, deterministic=True)
    assert_close(sine, case.arrays["sinegen_sine"], atol=5e-6, rtol=0)
    assert_close(uv, case.arrays["sinegen_uv"], atol=0, rtol=0)
    assert_close(source(case.nsff0, case.config.hop_length, deterministic=True), case.arrays["m_source_out"])


@torch.no_grad()
def test_infer_all_outputs(case: TinyCase):
    out = case.model.infer_detailed(
        case.tensor("phone"), case.tensor("phone_lengths"), case.pitch, case.nsff0, case.tensor("sid"), noise_scale=0
    )
    assert_close(out.audio, case.arrays["infer_out"])
    assert_close(out.x_mask, case.arrays["infer_x_mask"])
    assert_close(out.z, case.arrays["infer_z"])
    assert_close(out.z_p, case.arrays["infer_z_p"])


@torch.no_grad()
def test_inference_pth_through_public_loader(case: TinyCase):
    model = load_synthesizer(REFERENCE_DIR / f"{case.name}.pth")
    assert (model.info.version, model.info.sample_rate, model.info.f0) == (
        case.config.version, case.config.sample_rate, case.config.f0,
    )
    assert model.info.speakers == 4 and model.info.info == "1epoch"
    audio = model.infer(
        case.tensor("phone"), case.tensor("phone_lengths"), case.pitch, case.nsff0, case.tensor("sid"), noise_scale=0
    )
    assert audio.shape == (1, 1, 20 * case.config.hop_length)
    assert_close(audio, case.arrays["pth_infer_out"])


@torch.no_grad()
def test_zero_noise_is_deterministic_and_default_noise_is_not(case: TinyCase):
    args = (case.tensor("phone"), case.tensor("phone_lengths"), case.pitch, case.nsff0, case.tensor("sid"))
    assert torch.equal(case.model.infer(*args, noise_scale=0), case.model.infer(*args, noise_scale=0))
    assert not torch.equal(case.model.infer(*args), case.model.infer(*args))


@pytest.mark.parametrize("sample_rate", [32000, 40000, 48000])
def test_sine_generator_alone(sample_rate: int):
    ref = load_reference_npz("sinegen_reference.npz")
    hop = sample_rate // 100
    sine, uv = SineGenerator(sample_rate)(torch.from_numpy(ref["f0"]), hop, deterministic=True)
    assert_close(sine, ref[f"sine_legacy_{sample_rate}"], atol=5e-6, rtol=0)
    assert float(sine.abs().max()) > 0.09
    if f"uv_{sample_rate}" in ref:
        assert_close(uv, ref[f"uv_{sample_rate}"], atol=0, rtol=0)
