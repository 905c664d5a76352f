#!/usr/bin/env bash
# The checks that need a CUDA GPU, as one script for a lent GPU machine (no internet there, a python3 with torch).
#
#   bash benchmarks/gpu_check.sh stage   # here: wheels the GPU image lacks -> .whl/, a slim ../shared -> .gpu/shared/
#   bash benchmarks/gpu_check.sh run     # there, in the repository root (carry .whl and .gpu): tests, then benchmarks
#
# Both folders are listed in .git/info/exclude, never committed. The run prints the GPU, the CUDA tests
# (tests/gpu and the rmvpe half-precision test), conversion speed/memory on CUDA (30 s and 600 s inputs, then 30 s
# with the decoder compiled), training seconds per step at batch 4/8/16, and the 30 s conversion on the same
# machine's CPUs as the baseline.
set -o pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT" || exit 1
PY312="--python-version 3.12 --implementation cp --only-binary=:all: --no-deps"
PLATFORMS="--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64"
WHEELS="av==18.1.0 faiss-cpu==1.15.1 soxr==1.1.0 librosa==0.11.0 soundfile==0.14.0 cffi==2.0.0 pycparser==2.23
        audioread==3.1.0 pooch==1.9.0 decorator==5.3.1 platformdirs==4.14.8"
REFERENCE="tiny_v2_f0_40k tiny_v2_nof0_40k tiny_v1_f0_40k tiny_v2_f0_32k hubert_reference hubert_base_keys
           rmvpe_manifest rmvpe_reference README"

stage() {
    local shared="$ROOT/../shared"
    mkdir -p .whl .gpu/shared/reference/synth_manifests .gpu/shared/data
    # shellcheck disable=SC2086
    .venv/bin/python -m pip download -q $PY312 $PLATFORMS -d .whl $WHEELS || exit 1
    for name in $REFERENCE; do cp "$shared"/reference/"$name".* .gpu/shared/reference/; done
    cp "$shared/reference/synth_manifests/synth_v2_f0_40k.json" .gpu/shared/reference/synth_manifests/
    cp "$shared/data/README.md" .gpu/shared/data/
    # Mono 16-bit: half the bytes of the stereo source; every user of it down-mixes first anyway.
    .venv/bin/python -c "import soundfile as sf; x, sr = sf.read('$shared/data/source_speech_stereo48k.wav', \
dtype='int16'); sf.write('.gpu/shared/data/source_speech_stereo48k.wav', x.mean(axis=1).astype('int16'), sr)"
    du -sh .whl .gpu
}

run() {
    export PYTHONUNBUFFERED=1 RVC_SHARED_DIR="$ROOT/.gpu/shared" OUT="${OUT:-/tmp/gpu_check}"
    mkdir -p "$OUT"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site:$ROOT"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    python3 -c "import torch, transformers, numpy; print('torch', torch.__version__, 'transformers',
transformers.__version__, 'numpy', numpy.__version__, 'bf16', torch.cuda.is_bf16_supported())"
    timeout 180 python3 -m pytest -q -s -p no:cacheprovider -m gpu tests/gpu tests/unit/f0/test_f0_rmvpe.py 2>&1 \
        | grep -v "it/s]" | tee "$OUT/gpu_tests.log"
    timeout 150 python3 benchmarks/bench_infer.py --device cuda:0 --seconds 30 600 2>&1 | tee "$OUT/bench_infer_cuda.log"
    timeout 150 python3 benchmarks/bench_infer.py --device cuda:0 --seconds 30 --compile 2>&1 \
        | tee "$OUT/bench_infer_cuda_compiled.log"
    timeout 90 python3 benchmarks/bench_train.py --devices 0 --batch-sizes 4 8 16 --steps 5 2>&1 \
        | tee "$OUT/bench_train_cuda.log"
    timeout 60 python3 benchmarks/bench_infer.py --device cpu --seconds 30 2>&1 | tee "$OUT/bench_infer_cpu.log"
}

case "${1:-}" in
    stage) stage ;;
    run) run ;;
    *) echo "usage: bash benchmarks/gpu_check.sh stage|run" >&2; exit 2 ;;
esac
