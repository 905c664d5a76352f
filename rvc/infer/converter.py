"""Converting files: resolve and check a model, its index and the assets, then convert one file or a batch.

Below the service layer, so that the inference worker (and any job) converts without importing `rvc.service`;
paths from clients are confined to the allowed roots before they reach here (`rvc.security`).

Errors a user can fix (a missing file, a parameter out of range, a model that does not fit its index) are
raised as `ValueError`/`FileNotFoundError` subclasses whose message says what is wrong and what to do.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from rvc.assets import require_asset
from rvc.audio import SUPPORTED_OUTPUT_FORMATS, load_audio, write_audio
from rvc.config import embedder_override, get_paths
from rvc.infer.cache import ModelCache
from rvc.infer.params import ConvertParams, ParameterError
from rvc.infer.pipeline import convert_audio
from rvc.infer.segments import SAMPLE_RATE_16K_HZ
from rvc.memory import release_free_memory
from rvc.retrieval import find_index_for_model, list_indexes
from rvc.security import PathNotAllowedError, confined_path
from rvc.settings import load_settings

if TYPE_CHECKING:
    from rvc.embedders import Embedder
    from rvc.f0 import F0Extractor

AUTO_INDEX = "auto"
MEDIA_SUFFIXES = {".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".mp4", ".mkv", ".webm", ".wma", ".aiff"}

_caches: dict[str, ModelCache] = {}

Progress = Callable[[str, int, int], None]


def model_cache(device: str | None = None) -> ModelCache:
    """The process-wide cache for ``device`` (default: CUDA when present, else CPU)."""
    cache = ModelCache(device)
    return _caches.setdefault(str(cache.device), cache)


def list_models() -> list[str]:
    """Names (file stems) of the inference models in `assets/weights`."""
    weights = get_paths().weights
    return sorted(p.stem for p in weights.glob("*.pth")) if weights.is_dir() else []


def list_index_files() -> list[str]:
    """Usable `.index` files under `assets/indices` and `logs/` (names containing "trained" are skipped)."""
    paths = get_paths()
    found = [p for root in (paths.indices, paths.logs) if root.is_dir() for p in list_indexes(root)]
    return [str(p) for p in found]


def resolve_model(model: str | os.PathLike) -> Path:
    """A model given as a path, or as a name in `assets/weights` (with or without `.pth`); while the process serves
    clients, a path counts only inside the allowed roots (`rvc.security.confined_path`).
    """
    candidate = Path(model)
    try:
        path = confined_path(model)
    except PathNotAllowedError:
        path = None  # no file out of reach is tried, so the answer says nothing about it
    if path is not None and os.path.isfile(path):  # os.path: a name too long for the system is just not a file
        return path
    named = get_paths().weights / (candidate.name if candidate.suffix == ".pth" else f"{candidate.name}.pth")
    if os.path.isfile(named):
        return named
    raise FileNotFoundError(f"model {str(model)!r} not found (neither a file nor a name in {get_paths().weights})")


def resolve_index(index: str | os.PathLike | None, model_path: Path) -> Path | None:
    """`"auto"`: the ecosystem's rule (first index whose path holds the model's name); None or "": none; else a
    path (inside the allowed roots while the process serves clients).
    """
    if index in (None, ""):
        return None
    if str(index) == AUTO_INDEX:
        paths = get_paths()
        for root in (paths.indices, paths.logs):
            if root.is_dir() and (found := find_index_for_model(model_path, root)):
                return Path(found)
        return None
    path = confined_path(index)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"index file {str(index)!r} not found")
    return path


def _output_format(output_path: Path | None, output_format: str | None) -> str:
    fmt = (output_format or (output_path.suffix.lstrip(".") if output_path and output_path.suffix else "wav")).lower()
    if fmt not in SUPPORTED_OUTPUT_FORMATS:
        supported = ", ".join(SUPPORTED_OUTPUT_FORMATS)
        raise ParameterError(f"output format {fmt!r} is not supported: use one of {supported}")
    return fmt


class Converter:
    """Everything one model needs, loaded and checked once, then used for any number of inputs.

    The voice model and its index are loaded and checked before the constructor returns, so a bad file or parameter
    is reported at once. HuBERT and the pitch model, the same for every voice and most of the start-up (transformers
    alone takes seconds to import), load on a background thread that the first conversion waits for: a process is
    ready to take a request as soon as its voice is.
    """

    def __init__(
        self,
        model: str | os.PathLike,
        params: ConvertParams,
        index: str | os.PathLike | None = AUTO_INDEX,
        device: str | None = None,
        embedder: str | os.PathLike | None = None,
    ) -> None:
        self.params = params.validate()
        self.model_path = resolve_model(model)
        cache = model_cache(device)
        self.synthesizer = cache.synthesizer(self.model_path)
        compile_decoder = load_settings().compile_decoder
        if self.synthesizer.dec.compiled != compile_decoder:
            self.synthesizer.dec.compile_windows(compile_decoder)
        self.index_path = resolve_index(index, self.model_path) if params.index_rate > 0 else None
        self.index = cache.index(self.index_path) if self.index_path else None
        if self.index is not None:
            self.index.check_dim(self.synthesizer.config.phone_dim)
        if params.sid >= self.synthesizer.info.speakers:
            raise ParameterError(
                f"sid={params.sid} is out of range: this model has {self.synthesizer.info.speakers} speaker(s)"
            )
        embedder_path = embedder or embedder_override() or require_asset("hubert_base")
        needs_rmvpe = self.synthesizer.info.f0 and params.f0_method == "rmvpe"
        rmvpe_path = require_asset("rmvpe") if needs_rmvpe else None
        self._shared_models: Future[tuple[Embedder, F0Extractor | None]] = Future()
        # A thread that ends with its loads: an idle thread kept for later would keep the OpenMP team it used
        # for them, and the conversions' own torch work then ran 1.5x slower on this 2-core CPU (measured).
        threading.Thread(
            target=self._load_shared_models, args=(cache, embedder_path, rmvpe_path), name="rvc-shared-models",
            daemon=True,
        ).start()

    def _load_shared_models(self, cache: ModelCache, embedder_path: Path, rmvpe_path: Path | None) -> None:
        try:
            embedder = cache.embedder(embedder_path)
            extractor = None
            if self.synthesizer.info.f0:
                extractor = cache.f0_extractor(self.params.f0_method, rmvpe_path, self.params.filter_radius)
        except BaseException as error:  # handed to whoever asks for the models
            self._shared_models.set_exception(error)
        else:
            self._shared_models.set_result((embedder, extractor))

    @property
    def embedder(self) -> Embedder:
        """HuBERT, once the background load is done (its error, if it failed)."""
        return self._shared_models.result()[0]

    @property
    def f0_extractor(self) -> F0Extractor | None:
        """The pitch extractor (None for a model without f0), once the background load is done."""
        return self._shared_models.result()[1]

    def convert_file(
        self, input_path: str | os.PathLike, output_path: str | os.PathLike, output_format: str | None = None,
        progress: Progress | None = None,
    ) -> dict:
        output_path = Path(output_path)
        fmt = _output_format(output_path, output_format)
        start = time.perf_counter()
        audio = load_audio(input_path, SAMPLE_RATE_16K_HZ)
        decode_s = time.perf_counter() - start
        result = convert_audio(
            audio, self.synthesizer, self.embedder, self.params, self.f0_extractor, self.index, progress=progress
        )
        release_free_memory()  # the conversion's activations, before the next input or a long idle time
        start = time.perf_counter()
        written = write_audio(output_path, result.audio, result.sample_rate_hz, fmt)
        timings = {"decode": decode_s, **result.timings_s, "write": time.perf_counter() - start}
        return {
            "input_path": str(input_path),
            "output_path": str(written),
            "sample_rate_hz": result.sample_rate_hz,
            "duration_s": result.audio.shape[0] / result.sample_rate_hz,
            "model": str(self.model_path),
            "index": str(self.index_path) if self.index_path else None,
            "timings_s": {k: round(v, 4) for k, v in timings.items()},
        }


def default_output_path(input_path: str | os.PathLike, model_path: Path, fmt: str, folder: Path | None = None) -> Path:
    folder = folder or get_paths().home / "outputs"
    return folder / f"{Path(input_path).stem}_{model_path.stem}.{fmt}"


def as_params(params: ConvertParams | Mapping | None) -> ConvertParams:
    """Parameters from the dataclass, or from loose values (form fields, JSON), validated."""
    if params is None:
        return ConvertParams()
    if isinstance(params, ConvertParams):
        return params.validate()
    return ConvertParams.from_dict(dict(params))


def convert(
    input_path: str | os.PathLike,
    model: str | os.PathLike,
    output_path: str | os.PathLike | None = None,
    params: ConvertParams | Mapping | None = None,
    index: str | os.PathLike | None = AUTO_INDEX,
    output_format: str | None = None,
    device: str | None = None,
    progress: Progress | None = None,
) -> dict:
    """Convert one file; returns output path, sample rate, duration and per-stage timings."""
    if not Path(input_path).is_file():
        raise FileNotFoundError(f"input file {str(input_path)!r} not found")
    converter = Converter(model, as_params(params), index, device)
    fmt = _output_format(Path(output_path) if output_path else None, output_format)
    target = Path(output_path) if output_path else default_output_path(input_path, converter.model_path, fmt)
    return converter.convert_file(input_path, target, fmt, progress)


def collect_inputs(inputs: Iterable[str | os.PathLike] | str | os.PathLike) -> list[Path]:
    """Files given one by one or as folders (media files inside, sorted by name; while the process serves clients,
    links that lead out of the allowed roots are left out).
    """
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            files.extend(sorted(p for p in item.iterdir() if p.suffix.lower() in MEDIA_SUFFIXES and _reachable(p)))
        else:
            files.append(item)
    if not files:
        raise FileNotFoundError(f"no audio files found in {', '.join(map(str, items))}")
    return files


def _reachable(path: Path) -> bool:
    """A file a folder listing may hand on (checked before the file itself is looked at)."""
    try:
        return confined_path(path).is_file()
    except PathNotAllowedError:
        return False


def convert_batch(
    inputs: Iterable[str | os.PathLike] | str | os.PathLike,
    model: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    params: ConvertParams | Mapping | None = None,
    index: str | os.PathLike | None = AUTO_INDEX,
    output_format: str = "wav",
    device: str | None = None,
    progress: Progress | None = None,
) -> dict:
    """Convert many files with one model load; a failing file is reported and the batch goes on."""
    files = collect_inputs(inputs)
    converter = Converter(model, as_params(params), index, device)
    fmt = _output_format(None, output_format)
    folder = Path(output_dir) if output_dir else get_paths().home / "outputs"
    outputs, errors = [], []
    for number, path in enumerate(files):
        try:
            target = default_output_path(path, converter.model_path, fmt, folder)
            outputs.append(converter.convert_file(path, target, fmt))
        except Exception as error:  # one bad file must not stop the batch; it is reported below
            errors.append({"input_path": str(path), "error": f"{type(error).__name__}: {error}"})
        if progress:
            progress("batch", number + 1, len(files))
    return {"outputs": outputs, "errors": errors, "params": asdict(converter.params)}


def f0_curves(input_path: str | os.PathLike, output_path: str | os.PathLike, f0_method: str = "pm",
              points: int = 2000, device: str | None = None) -> dict:
    """Pitch of the input and of the converted output over time, for the Inference tab's plot, tracked with
    ``device``'s cached extractor (the one the conversion used).

    At most ``points`` samples per curve (a 10-minute song has 60,000 frames); unvoiced frames are None.
    """
    extractor = model_cache(device).f0_extractor(f0_method, require_asset("rmvpe") if f0_method == "rmvpe" else None)
    curves = {}
    for key, path in (("input_hz", input_path), ("output_hz", output_path)):
        f0 = extractor.compute(load_audio(path, SAMPLE_RATE_16K_HZ))
        step = max(1, len(f0) // points)
        curves[key] = [float(v) if v > 0 else None for v in f0[::step]]
        curves["time_s"] = [i * step / 100 for i in range(len(curves[key]))]
    length = min(len(curves["input_hz"]), len(curves["output_hz"]))
    return {name: values[:length] for name, values in curves.items()}
