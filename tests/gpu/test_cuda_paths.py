"""The CUDA paths on a real GPU: half-precision inference, autocast training, checkpoints that move between devices.

Skipped where there is no CUDA device (CI has none); `benchmarks/gpu_check.sh` runs them on a lent GPU machine.
The CPU suite covers the same logic in float32 against the same reference numbers.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from rvc.audio import load_audio
from rvc.embedders import load_embedder
from rvc.f0 import RmvpeExtractor, RmvpeNet
from rvc.infer import ConvertParams, convert_audio
from rvc.synth import load_checkpoint, load_synthesizer
from rvc.train.trainer import train
from rvc.weight_rule import rule_state_dict
from tests.conftest import DATA_DIR, load_reference_json, load_reference_npz
from tests.factories import tiny_pth, write_full_hubert, write_rule_synthesizer, write_small_embedder
from tests.unit.train.test_trainer import RecordingSink
from tests.unit.train.tiny_experiment import make_experiment

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

CUDA = torch.device("cuda:0")


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """The largest deviation as a fraction of the expected signal's peak."""
    return float(np.abs(actual - expected).max() / np.abs(expected).max())


@torch.no_grad()
@pytest.mark.parametrize("name", ["tiny_v2_f0_40k", "tiny_v2_nof0_40k", "tiny_v1_f0_40k", "tiny_v2_f0_32k"])
def test_synthesizer_in_half_precision_matches_the_reference(name: str) -> None:
    model = load_synthesizer(tiny_pth(name), CUDA)
    assert next(model.parameters()).dtype == torch.float16
    arrays = load_reference_npz(f"{name}.npz")
    tensor = lambda key: torch.from_numpy(arrays[key]).to(CUDA)  # noqa: E731
    f0 = model.info.f0
    audio = model.infer(
        tensor("phone").half(), tensor("phone_lengths"), tensor("pitch") if f0 else None,
        tensor("nsff0") if f0 else None, tensor("sid"), noise_scale=0,
    )
    error = relative_error(audio.float().cpu().numpy(), arrays["pth_infer_out"])
    print(f"{name}: fp16 on CUDA vs the original's fp32 output: {error:.2e} of peak")
    assert error < 2e-2


@torch.no_grad()
def test_full_size_synthesizer_in_half_precision_stays_finite(tmp_path) -> None:
    """The full-size v2 40k model's first attention layer reaches q.k beyond fp16's range on these weights."""
    path = write_rule_synthesizer(tmp_path / "full.pth", "v2", "40k", f0=True)
    frames = 200
    generator = torch.Generator().manual_seed(0)
    phone = torch.randn(1, frames, 768, generator=generator).to(CUDA)
    pitch = torch.full((1, frames), 100, device=CUDA)
    pitchf = torch.full((1, frames), 220.0, device=CUDA)
    args = (torch.tensor([frames], device=CUDA), pitch, pitchf, torch.tensor([0], device=CUDA))
    outputs = {}
    for dtype in (torch.float32, torch.float16):
        model = load_synthesizer(path, CUDA, dtype)
        outputs[dtype] = model.infer(phone.to(dtype), *args, noise_scale=0).float().cpu().numpy()
    assert np.isfinite(outputs[torch.float16]).all()
    correlation = float(np.corrcoef(outputs[torch.float32].ravel(), outputs[torch.float16].ravel())[0, 1])
    print(f"full-size v2 40k, fp16 vs fp32 on CUDA: correlation {correlation:.4f}")
    assert correlation > 0.95


@torch.no_grad()
def test_embedder_in_half_precision_matches_the_fairseq_reference(tmp_path) -> None:
    reference = load_reference_npz("hubert_reference.npz")
    embedder = load_embedder(write_full_hubert(tmp_path / "hubert_base.pt"), CUDA, torch.float16)
    for version in ("v1", "v2"):
        features = embedder.extract(torch.from_numpy(reference["audio"]).to(CUDA, torch.float16), version)
        expected = reference[f"{version}_features"]
        actual = features.float().cpu().numpy()
        assert actual.shape == expected.shape
        error = relative_error(actual, expected)
        print(f"HuBERT {version} features, fp16 on CUDA: {error:.2e} of peak")
        assert error < 2e-2


@pytest.fixture(scope="module")
def rmvpe_on_cpu() -> RmvpeExtractor:
    manifest = load_reference_json("rmvpe_manifest.json")
    net = RmvpeNet()
    net.load_state_dict(rule_state_dict(manifest["keys"], manifest["seed"], manifest["scale"]), strict=True)
    return RmvpeExtractor(net.eval())


def test_conversion_on_cuda_agrees_with_the_cpu(tmp_path, rmvpe_on_cpu) -> None:
    """The whole pipeline in fp16 on the GPU (its segment sizes too) against fp32 on the CPU, same pitch track."""
    source = load_audio(DATA_DIR / "source_speech_stereo48k.wav", 16000)[: 20 * 16000]
    embedder_folder = write_small_embedder(tmp_path / "embedder")
    params = ConvertParams(f0_method="rmvpe", noise_scale=0.0, index_rate=0.0)
    outputs = {}
    for device in ("cpu", "cuda:0"):
        model = load_synthesizer(tiny_pth("tiny_v2_f0_40k"), device)
        embedder = load_embedder(embedder_folder, device, next(model.parameters()).dtype)
        outputs[device] = convert_audio(source, model, embedder, params, rmvpe_on_cpu).audio
    on_cpu, on_gpu = outputs["cpu"], outputs["cuda:0"]
    assert on_gpu.shape == on_cpu.shape and np.isfinite(on_gpu).all()
    correlation = float(np.corrcoef(on_cpu, on_gpu)[0, 1])
    print(f"20 s conversion, fp16 CUDA vs fp32 CPU: correlation {correlation:.4f}")
    assert correlation > 0.95


@pytest.mark.parametrize("seconds", [20, 90], ids=["whole", "chunks-in-batches"])
def test_rmvpe_half_on_cuda_tracks_like_the_cpu(rmvpe_on_cpu, seconds: int) -> None:
    """20 s go through the network in one piece; 90 s in chunks, batched on the GPU, one at a time on the CPU."""
    audio = np.tile(load_audio(DATA_DIR / "source_speech_stereo48k.wav", 16000), 3)[: seconds * 16000]
    on_cpu = rmvpe_on_cpu.compute(audio)
    on_gpu = RmvpeExtractor(copy.deepcopy(rmvpe_on_cpu.net), "cuda", half=True).compute(audio)
    voiced = (on_cpu > 0) & (on_gpu > 0)
    agreement = float(((on_cpu > 0) == (on_gpu > 0)).mean())
    cents = 1200 * np.abs(np.log2(on_gpu[voiced] / on_cpu[voiced]))
    print(f"rmvpe fp16 CUDA vs CPU on {seconds} s of speech: voicing agrees on {agreement:.3f}, "
          f"median {np.median(cents):.2f} cents apart")
    assert agreement > 0.97 and np.median(cents) < 5


@pytest.mark.parametrize("bf16", [True, False], ids=["bfloat16", "float16-with-grad-scaler"])
def test_training_on_cuda_under_autocast(tmp_path, monkeypatch, bf16: bool) -> None:
    """Both mixed-precision kinds train, save checkpoints that load on the CPU, and resume where they stopped."""
    monkeypatch.setenv("RVC_HOME", str(tmp_path / "home"))
    if not bf16:
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    exp = make_experiment(tmp_path / "logs")
    first = RecordingSink()
    assert train(exp, epochs=2, batch_size=4, save_every=1, devices="0", sink=first)["status"] == "completed"
    second = RecordingSink()
    assert train(exp, epochs=3, batch_size=4, save_every=1, devices="0", sink=second)["status"] == "completed"
    metrics = first.train_metrics() + second.train_metrics()
    assert [m["step"] for m in metrics] == list(range(1, 10))
    assert all(np.isfinite([m["loss_g"], m["loss_d"], m["loss_mel"]]).all() for m in metrics)
    checkpoint = load_checkpoint(exp / "G_9.pth")
    assert checkpoint.kind == "training"
    assert all(t.device.type == "cpu" for t in checkpoint.state_dict.values())
    exported = load_synthesizer(tmp_path / "home" / "assets" / "weights" / "tiny.pth")
    assert exported.info.sample_rate == 40000
