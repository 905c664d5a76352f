"""The decoder run in windows (inference's memory saver) gives the samples of one pass over the whole latent."""

from __future__ import annotations

import pytest
import torch

from rvc.synth import load_synthesizer
from rvc.synth.generator import receptive_frames
from rvc.synth.presets import all_presets
from tests.factories import tiny_pth

FRAMES = 173  # several windows of the sizes below, the last one short
MODELS = ["tiny_v1_f0_40k", "tiny_v1_nof0_40k", "tiny_v2_f0_32k", "tiny_v2_f0_40k", "tiny_v2_nof0_40k"]


def _decode(model, latent, f0, chunk_frames):
    g = model.speaker_embedding(torch.tensor([0]))
    with torch.inference_mode():
        return model.dec(latent, f0 if model.config.f0 else None, g=g, deterministic=True, chunk_frames=chunk_frames)


@pytest.mark.parametrize("name", MODELS)
def test_windows_reproduce_one_pass(name):
    model = load_synthesizer(tiny_pth(name))
    generator = torch.Generator().manual_seed(0)
    latent = torch.randn(1, model.config.inter_channels, FRAMES, generator=generator)
    f0 = 80 + 300 * torch.rand(1, FRAMES, generator=generator)
    whole = _decode(model, latent, f0, None)
    for chunk_frames in (17, 64, FRAMES - 1):
        windowed = _decode(model, latent, f0, chunk_frames)
        assert windowed.shape == whole.shape
        torch.testing.assert_close(windowed, whole, atol=2e-6, rtol=0)


def test_too_little_context_would_show(monkeypatch):
    """The check above can fail: windows with less context than the receptive field differ at their seams."""
    model = load_synthesizer(tiny_pth("tiny_v2_f0_40k"))
    latent, f0 = torch.randn(1, model.config.inter_channels, FRAMES), torch.full((1, FRAMES), 150.0)
    whole = _decode(model, latent, f0, None)
    monkeypatch.setattr(model.dec, "context_frames", 2)
    assert (_decode(model, latent, f0, 17) - whole).abs().max() > 1e-4


def test_receptive_field_grows_with_the_widest_block():
    for config in all_presets():
        assert 10 <= receptive_frames(config) <= 25  # 14-19 frames for the ecosystem's configs


def _window_widths(monkeypatch, model, chunk_frames, keep=None):
    widths = []
    decode = model.dec._decode
    monkeypatch.setattr(model.dec, "_decode", lambda x, source, g: widths.append(x.shape[-1]) or decode(x, source, g))
    latent, f0 = torch.randn(1, model.config.inter_channels, FRAMES), torch.full((1, FRAMES), 150.0)
    g = model.speaker_embedding(torch.tensor([0]))
    with torch.inference_mode():
        model.dec(latent, f0, g=g, deterministic=True, chunk_frames=chunk_frames, keep=keep)
    return widths


def test_eager_windows_split_the_frames_evenly_in_one_width(monkeypatch):
    """173 frames in chunks of 64: three windows of 58 kept frames (rounded up to 60; not 64, 64 and one more for
    45), all as wide."""
    model = load_synthesizer(tiny_pth("tiny_v2_f0_40k"))
    assert _window_widths(monkeypatch, model, 64) == [60 + 2 * model.dec.context_frames] * 3


def test_compiled_windows_all_have_one_width(monkeypatch):
    """One static shape for torch.compile: the first and last windows are shifted inwards, not cut short."""
    model = load_synthesizer(tiny_pth("tiny_v2_f0_40k"))
    widths = []
    monkeypatch.setattr(model.dec, "_compiled_decode", lambda x, source, g: widths.append(x.shape[-1]) or x[:, :1])
    latent, f0 = torch.randn(1, model.config.inter_channels, FRAMES), torch.full((1, FRAMES), 150.0)
    with torch.inference_mode():
        model.dec(latent, f0, g=model.speaker_embedding(torch.tensor([0])), deterministic=True, chunk_frames=17)
    assert widths == [17 + 2 * model.dec.context_frames] * -(-FRAMES // 17)


@pytest.mark.parametrize("name", ["tiny_v1_nof0_40k", "tiny_v2_f0_40k"])
@pytest.mark.parametrize("chunk_frames", [None, 17, 64])
def test_keep_decodes_only_those_frames_with_the_same_samples(name, chunk_frames):
    """A padded segment's kept frames: the samples of the whole pass, cut out, whatever the windows."""
    model = load_synthesizer(tiny_pth(name))
    generator = torch.Generator().manual_seed(2)
    latent = torch.randn(1, model.config.inter_channels, FRAMES, generator=generator)
    f0 = 80 + 300 * torch.rand(1, FRAMES, generator=generator)
    whole = _decode(model, latent, f0, None)
    upp = model.dec.upp
    g = model.speaker_embedding(torch.tensor([0]))
    for keep in ((40, 133), (0, 50), (120, FRAMES), (5, 6)):
        with torch.inference_mode():
            part = model.dec(latent, f0 if model.config.f0 else None, g=g, deterministic=True,
                             chunk_frames=chunk_frames, keep=keep)
        torch.testing.assert_close(part, whole[..., keep[0] * upp : keep[1] * upp], atol=2e-6, rtol=0)


def test_keep_reads_only_the_context_it_needs(monkeypatch):
    model = load_synthesizer(tiny_pth("tiny_v2_f0_40k"))
    context = model.dec.context_frames
    assert _window_widths(monkeypatch, model, None, keep=(60, 100)) == [40 + 2 * context]


def test_keeping_nothing_is_refused():
    model = load_synthesizer(tiny_pth("tiny_v2_f0_40k"))
    latent, f0 = torch.randn(1, model.config.inter_channels, FRAMES), torch.full((1, FRAMES), 150.0)
    with pytest.raises(ValueError, match="nothing to decode"):
        model.dec(latent, f0, g=model.speaker_embedding(torch.tensor([0])), keep=(FRAMES, FRAMES + 5))


@pytest.mark.slow
def test_compiled_windows_give_the_same_samples(monkeypatch):
    model = load_synthesizer(tiny_pth("tiny_v2_f0_40k"))
    generator = torch.Generator().manual_seed(1)
    latent = torch.randn(1, model.config.inter_channels, FRAMES, generator=generator)
    f0 = 80 + 300 * torch.rand(1, FRAMES, generator=generator)
    whole = _decode(model, latent, f0, None)
    model.dec.compile_windows()
    compiled, calls = model.dec._compiled_decode, []
    monkeypatch.setattr(model.dec, "_compiled_decode", lambda *args: calls.append(1) or compiled(*args))
    torch.testing.assert_close(_decode(model, latent, f0, 64), whole, atol=1e-5, rtol=0)
    assert len(calls) == 3  # every window went through the compiled graph
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    longer = torch.randn(1, model.config.inter_channels, FRAMES + 37, generator=generator)
    _decode(model, longer, torch.full((1, FRAMES + 37), 150.0), 64)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs  # another segment's length: no recompile
    model.dec.compile_windows(False)
    assert not model.dec.compiled


def test_a_failing_compile_falls_back_to_eager(monkeypatch, caplog):
    model = load_synthesizer(tiny_pth("tiny_v2_f0_40k"))
    latent, f0 = torch.randn(1, model.config.inter_channels, FRAMES), torch.full((1, FRAMES), 150.0)
    whole = _decode(model, latent, f0, None)

    def no_compiler(*args):
        raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found\nmore detail")

    monkeypatch.setattr(model.dec, "_compiled_decode", no_compiler)
    torch.testing.assert_close(_decode(model, latent, f0, 17), whole, atol=2e-6, rtol=0)
    assert not model.dec.compiled
    assert "torch.compile failed, the decoder runs uncompiled: InvalidCxxCompiler" in caplog.text
