"""RMVPE against the numbers recorded from the original implementation, and its file loading."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rvc.f0 import F0ModelError, RmvpeExtractor, RmvpeNet, get_extractor
from rvc.f0.rmvpe import MelFrontEnd, salience_to_cents, salience_to_f0
from rvc.weight_rule import rule_state_dict
from tests.conftest import load_reference_json, load_reference_npz

MANIFEST = load_reference_json("rmvpe_manifest.json")
REFERENCE = load_reference_npz("rmvpe_reference.npz")


@pytest.fixture(scope="module")
def rule_state() -> dict[str, torch.Tensor]:
    return rule_state_dict(MANIFEST["keys"], MANIFEST["seed"], MANIFEST["scale"])


@pytest.fixture(scope="module")
def extractor(rule_state: dict[str, torch.Tensor]) -> RmvpeExtractor:
    """The ~90M-parameter network with the reference's rule weights: built once for the module."""
    net = RmvpeNet()
    net.load_state_dict(rule_state, strict=True)
    return RmvpeExtractor(net.eval())


@pytest.fixture(scope="module")
def fp16_model_file(rule_state: dict[str, torch.Tensor], tmp_path_factory: pytest.TempPathFactory):
    """The rule weights saved as the ecosystem ships rmvpe.pt: a plain fp16 state dict."""
    path = tmp_path_factory.mktemp("rmvpe") / "rmvpe.pt"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in rule_state.items()}, path)
    return path


def test_state_dict_matches_the_original_keys_and_shapes_in_order() -> None:
    ours = [[key, list(tensor.shape)] for key, tensor in RmvpeNet().state_dict().items()]
    assert ours == [[key, shape] for key, shape, _ in MANIFEST["keys"]]
    assert len(ours) == MANIFEST["n_keys"] == 741


def test_mel_front_end_matches_reference() -> None:
    front_end = MelFrontEnd()
    np.testing.assert_allclose(front_end.mel_basis.numpy(), REFERENCE["mel_basis"], rtol=0, atol=1e-5)
    mel = front_end(torch.from_numpy(REFERENCE["audio"])[None])
    assert mel.shape == REFERENCE["mel"].shape
    np.testing.assert_allclose(mel.numpy(), REFERENCE["mel"], rtol=0, atol=1e-4)


def test_unet_and_head_match_reference(extractor: RmvpeExtractor) -> None:
    mel = torch.from_numpy(REFERENCE["mel"])
    with torch.inference_mode():
        cnn_out = extractor.net.features(F.pad(mel, (0, 128 - mel.shape[-1])))
    np.testing.assert_allclose(cnn_out.numpy(), REFERENCE["cnn_out"], rtol=0, atol=1e-5)


def test_salience_and_f0_match_reference(extractor: RmvpeExtractor) -> None:
    hidden = extractor.salience(REFERENCE["audio"])
    np.testing.assert_allclose(hidden, REFERENCE["hidden"], rtol=0, atol=1e-5)
    f0 = extractor.compute(REFERENCE["audio"])
    assert f0.shape == REFERENCE["f0"].shape == (101,)
    np.testing.assert_allclose(f0, REFERENCE["f0"], rtol=1e-5, atol=0)


def test_decoder_matches_reference_cases() -> None:
    salience = REFERENCE["decode_salience"]
    np.testing.assert_allclose(salience_to_cents(salience), REFERENCE["decode_cents"], rtol=1e-12, atol=0)
    f0 = salience_to_f0(salience)
    np.testing.assert_allclose(f0, REFERENCE["decode_f0"], rtol=1e-12, atol=0)
    assert (f0 == 0).tolist() == (REFERENCE["decode_f0"] == 0).tolist()


@pytest.mark.parametrize("n_samples", [513, 4800, 4959])
def test_frame_count_is_one_per_hop_including_both_ends(extractor: RmvpeExtractor, n_samples: int) -> None:
    audio = np.random.default_rng(n_samples).normal(0, 0.1, n_samples).astype(np.float32)
    assert extractor.compute(audio).shape == (n_samples // 160 + 1,)


def test_too_short_audio_is_a_clear_error(extractor: RmvpeExtractor) -> None:
    with pytest.raises(ValueError, match="rmvpe: audio of 512 samples is too short"):
        extractor.compute(np.zeros(512, np.float32))


def test_fp16_file_loads_through_the_registry(extractor: RmvpeExtractor, fp16_model_file) -> None:
    loaded = get_extractor("rmvpe", model_path=fp16_model_file)
    assert isinstance(loaded, RmvpeExtractor)
    assert all(p.dtype == torch.float32 for p in loaded.net.parameters())
    assert not loaded.net.training
    f0_fp16, f0_fp32 = loaded.compute(REFERENCE["audio"]), extractor.compute(REFERENCE["audio"])
    assert ((f0_fp16 > 0) == (f0_fp32 > 0)).all()
    np.testing.assert_allclose(f0_fp16, f0_fp32, rtol=1e-4, atol=0)


def test_default_path_is_under_rvc_home_and_missing_file_says_how_to_get_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RVC_HOME", str(tmp_path))
    with pytest.raises(F0ModelError) as error:
        get_extractor("rmvpe")
    assert str(tmp_path / "assets" / "rmvpe" / "rmvpe.pt") in str(error.value)
    assert "python -m rvc download rmvpe" in str(error.value)


def test_text_file_is_rejected(tmp_path) -> None:
    path = tmp_path / "rmvpe.pt"
    path.write_text("404: Not Found\n")
    with pytest.raises(F0ModelError, match="rmvpe.pt: not a readable PyTorch file"):
        get_extractor("rmvpe", model_path=path)


def test_truncated_file_is_rejected(fp16_model_file, tmp_path) -> None:
    path = tmp_path / "rmvpe.pt"
    data = fp16_model_file.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(F0ModelError, match="truncated") as error:
        get_extractor("rmvpe", model_path=path)
    assert str(path) in str(error.value)


class _Payload:
    """Stands for code hidden in a pickle: a weights-only load must refuse it."""


def test_pickled_objects_are_refused_not_executed(tmp_path) -> None:
    path = tmp_path / "rmvpe.pt"
    torch.save({"unet.encoder.bn.weight": _Payload()}, path)
    with pytest.raises(F0ModelError, match="refused to load: its pickle would call .*_Payload"):
        get_extractor("rmvpe", model_path=path)


def test_wrapped_checkpoint_is_rejected(tmp_path) -> None:
    path = tmp_path / "rmvpe.pt"
    torch.save({"model": {"cnn.bias": torch.zeros(3)}, "epoch": 3}, path)
    with pytest.raises(F0ModelError, match="expected a plain state dict of tensors"):
        get_extractor("rmvpe", model_path=path)


def test_wrong_shape_is_named(rule_state: dict[str, torch.Tensor], tmp_path) -> None:
    path = tmp_path / "rmvpe.pt"
    state = {k: v.half() if v.is_floating_point() else v for k, v in rule_state.items()}
    state["fc.1.weight"] = torch.zeros(361, 512, dtype=torch.float16)
    torch.save(state, path)
    with pytest.raises(F0ModelError) as error:
        get_extractor("rmvpe", model_path=path)
    assert str(error.value) == (
        f"{path} is not an RMVPE model state dict: fc.1.weight has shape [361, 512], expected [360, 512]"
    )


def test_other_model_is_rejected_with_its_key_mismatch(tmp_path) -> None:
    path = tmp_path / "rmvpe.pt"
    torch.save({"enc_p.emb_phone.weight": torch.zeros(4, 4)}, path)
    with pytest.raises(F0ModelError, match=r"741 missing keys .*; 1 unexpected keys \(e.g. enc_p.emb_phone"):
        get_extractor("rmvpe", model_path=path)


def test_half_is_ignored_on_cpu(extractor: RmvpeExtractor) -> None:
    assert RmvpeExtractor(extractor.net, "cpu", half=True).dtype == torch.float32


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_half_precision_on_cuda_stays_close_to_reference(rule_state: dict[str, torch.Tensor]) -> None:
    net = RmvpeNet()
    net.load_state_dict(rule_state, strict=True)
    on_cuda = RmvpeExtractor(net, "cuda", half=True)
    assert on_cuda.dtype == torch.float16
    f0 = on_cuda.compute(REFERENCE["audio"])
    assert ((f0 > 0) == (REFERENCE["f0"] > 0)).all()
    np.testing.assert_allclose(f0, REFERENCE["f0"], rtol=1e-2, atol=0)


def test_long_inputs_go_in_chunks_with_context(extractor: RmvpeExtractor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunked salience keeps the frame count, equals the whole-input result up to the whole-input length, and stays
    close to it beyond (only the BiGRU's far context is lost); the pitch is the chunked salience's."""
    from rvc.f0 import rmvpe

    audio = np.random.default_rng(3).standard_normal(16000 * 6).astype(np.float32) * 0.05
    whole = extractor.salience(audio)
    monkeypatch.setattr(rmvpe, "WHOLE_INPUT_FRAMES", 300)
    monkeypatch.setattr(rmvpe, "CHUNK_FRAMES", 256)
    monkeypatch.setattr(rmvpe, "CONTEXT_FRAMES", 64)
    chunked = extractor.salience(audio)
    assert chunked.shape == whole.shape == (len(audio) // 160 + 1, 360)
    assert np.abs(chunked - whole).max() < 0.05, np.abs(chunked - whole).max()
    np.testing.assert_array_equal(extractor.compute(audio), salience_to_f0(chunked, extractor.threshold))
    monkeypatch.setattr(rmvpe, "WHOLE_INPUT_FRAMES", len(audio) // 160 + 1)
    np.testing.assert_array_equal(extractor.salience(audio), whole)


def test_what_the_original_converts_in_one_segment_goes_through_rmvpe_whole() -> None:
    """Its pitch is then the original's exactly: the longest one-segment input with its padding on both sides."""
    from rvc.f0.rmvpe import WHOLE_INPUT_FRAMES
    from rvc.infer.segments import CPU_SEGMENTS, FP32_SEGMENTS

    for settings in (FP32_SEGMENTS, CPU_SEGMENTS):
        assert (settings.x_max + 2 * settings.x_pad) * 100 + 1 <= WHOLE_INPUT_FRAMES


def test_chunks_in_batches_give_the_one_at_a_time_salience(
    extractor: RmvpeExtractor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GPU runs a long input's chunks in batches (one window width, ends shifted inwards): same numbers as one
    chunk at a time, a last batch smaller than the others included."""
    from rvc.f0 import rmvpe

    audio = np.random.default_rng(5).standard_normal(16000 * 6 + 333).astype(np.float32) * 0.05
    monkeypatch.setattr(rmvpe, "WHOLE_INPUT_FRAMES", 300)
    monkeypatch.setattr(rmvpe, "CHUNK_FRAMES", 96)
    monkeypatch.setattr(rmvpe, "CONTEXT_FRAMES", 32)
    windows = rmvpe._chunk_windows(len(audio) // 160 + 1)
    assert len(windows) == 7 and {high - low for low, high, _, _ in windows} == {160}
    assert windows[0][:3] == (0, 160, 0) and windows[-1][1] == 608  # 603 frames padded to a multiple of 32
    one_at_a_time = extractor.salience(audio)
    extractor.chunks_per_batch = 3
    np.testing.assert_allclose(extractor.salience(audio), one_at_a_time, rtol=0, atol=1e-5)


def test_the_log_mel_of_a_padded_span_is_the_whole_signals() -> None:
    """What lets long inputs skip the whole-input STFT: a span of the padded signal gives the same frames."""
    front_end = MelFrontEnd()
    audio = torch.from_numpy(np.random.default_rng(4).standard_normal(16000 * 3).astype(np.float32))[None]
    whole = front_end(audio)
    padded = front_end.pad(audio)
    for first, last in ((0, 40), (57, 120), (250, whole.shape[-1] - 1)):
        span = padded[..., first * 160 : last * 160 + 1024]
        torch.testing.assert_close(front_end(span, center=False), whole[..., first : last + 1], rtol=0, atol=1e-5)


def test_released_weights_are_read_again_from_the_file(rule_state: dict[str, torch.Tensor], tmp_path) -> None:
    path = tmp_path / "rmvpe.pt"
    torch.save({key: value.half() if value.is_floating_point() else value for key, value in rule_state.items()}, path)
    extractor = RmvpeExtractor.from_file(path)
    before = extractor.compute(REFERENCE["audio"])
    extractor.release_weights()
    assert extractor._net is None
    np.testing.assert_array_equal(extractor.compute(REFERENCE["audio"]), before)
    built_from_a_network = RmvpeExtractor(extractor.net)
    built_from_a_network.release_weights()  # nothing to read it again from: kept
    assert built_from_a_network._net is not None
