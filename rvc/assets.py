"""The pretrained files the RVC ecosystem shares, as data, and one verified way to download them.

Every RVC install needs the same files from the Hugging Face repo `lj1995/VoiceConversionWebUI`: `hubert_base.pt`
(content features), `rmvpe.pt` (pitch) and the pretrained base models that training starts from. They are listed
once, in `ASSETS`, with the size and sha256 published for them, so that the CLI, the System tab and the code that
needs a file all agree on what is missing and on the command that fetches it.

Sources of the numbers: every sha256 is the one the RVC project publishes in the `.env` file of
RVC-Project/Retrieval-based-Voice-Conversion-WebUI (`sha256_hubert_base_pt`, `sha256_v2_f0G40k_pth`, ...). The sizes
come from public download manifests that pin those same sha256 values (RVC/Applio installers and other front ends).
No public source gives the sizes of the v1 models without f0, so those are None: the download is then checked
against the length the server announces, and always against the sha256.

A download never leaves a partial or corrupt file under the final name: it is written to a hidden temporary file in
the same folder, checked (size, sha256) and only then moved into place with `os.replace`.

Users can add files or point a name at another repo with a JSON manifest at `RVC_HOME/assets/manifest.json`:

    {"assets": [{"name": "hubert_base", "repo_id": "my-org/rvc-mirror", "filename_in_repo": "hubert_base.pt",
                 "local_path": "hubert/hubert_base.pt", "size_bytes": 189507909}]}

An entry with a built-in name replaces the built-in one; any other name adds a file. The keys are `Asset`'s fields;
`size_bytes`, `sha256` (64 hex digits) and `revision` (default "main") are optional, but without them a damaged
copy is only caught by the length the server announces.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from rvc.config import Paths, get_paths

if TYPE_CHECKING:
    from rvc.events import EventSink

RVC_REPO = "lj1995/VoiceConversionWebUI"
DEFAULT_ENDPOINT = "https://huggingface.co"
ENDPOINT_ENV = "RVC_HF_ENDPOINT"
MANIFEST_NAME = "manifest.json"
PROGRESS_STAGE = "download"
HASH_BLOCK_BYTES = 1 << 20
PROGRESS_INTERVAL_S = 0.5
RETRY_WAIT_S = 2.0
RETRY_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Asset:
    """One file: where it lives on the Hub, where it goes under `assets/`, and how to recognise a good copy."""

    name: str
    repo_id: str
    filename_in_repo: str
    local_path: str
    size_bytes: int | None = None
    sha256: str | None = None
    revision: str = "main"

    def __post_init__(self) -> None:
        if not self.name or self.name == "all" or self.name != self.name.strip("/"):
            raise ValueError(f"invalid asset name {self.name!r}")
        local = PurePosixPath(self.local_path)
        if local.is_absolute() or not local.parts or ".." in local.parts or "\\" in self.local_path:
            raise ValueError(f"{self.name}: local_path {self.local_path!r} must be a relative path inside assets/")
        if self.size_bytes is not None and (not isinstance(self.size_bytes, int) or self.size_bytes < 0):
            raise ValueError(f"{self.name}: size_bytes must be a non-negative integer, not {self.size_bytes!r}")
        if self.sha256 is not None and not _SHA256.fullmatch(str(self.sha256)):
            raise ValueError(f"{self.name}: sha256 must be 64 lowercase hex digits, not {self.sha256!r}")

    def path(self, paths: Paths | None = None) -> Path:
        """Where the file belongs under the `assets/` folder of `paths` (default: this process's RVC_HOME)."""
        return (paths or get_paths()).assets / self.local_path


@dataclass(frozen=True)
class AssetStatus:
    """What is on disk for one asset; `size_ok` is None when the file is present but its size is not published."""

    asset: Asset
    path: Path
    present: bool
    size_bytes: int | None
    size_ok: bool | None


class MissingAssetError(FileNotFoundError):
    """A file a conversion or a training needs is not there; the message says how to download it."""


class DownloadError(OSError):
    """A download failed (hub error, network, retries used up); the final path was not touched."""


class CorruptDownloadError(DownloadError):
    """The downloaded bytes do not have the expected size or sha256; nothing was written under the final name."""


class ManifestError(ValueError):
    """`assets/manifest.json` cannot be read or has an invalid entry."""


# remote path in lj1995/VoiceConversionWebUI (also the path under assets/) -> (size in bytes or None, sha256)
_PRETRAINED: dict[str, tuple[int | None, str]] = {
    "pretrained/D32k.pth": (None, "2ab20645829460fdad0d3c44254f1ab53c32cae50c22a66c926ae5aa30abda6f"),
    "pretrained/D40k.pth": (None, "547f66dbbcd9023b9051ed244d12ab043ba8a4e854b154cc28761ac7c002909b"),
    "pretrained/D48k.pth": (None, "8cc013fa60ed9c3f902f5bd99f48c7e3b9352d763d4d3cd6bc241c37b0bfd9ad"),
    "pretrained/G32k.pth": (None, "81817645cde7ed2e2d83f23ef883f33dda564924b497e84d792743912eca4c23"),
    "pretrained/G40k.pth": (None, "e428573bda1124b0ae0ae843fd8dcded6027d3993444790b3e9b0100938b2113"),
    "pretrained/G48k.pth": (None, "3862a67ea6313e8ffefc05cee6bee656ef3e089442e9ecf4a6618d60721f3e95"),
    "pretrained/f0D32k.pth": (109_978_943, "294db3087236e2c75260d6179056791c9231245daf5d0485545d9e54c4057c77"),
    "pretrained/f0D40k.pth": (109_978_943, "7d4f5a441594b470d67579958b2fd4c6b992852ded28ff9e72eda67abcebe423"),
    "pretrained/f0D48k.pth": (109_978_943, "1b84c8bf347ad1e539c842e8f2a4c36ecd9e7fb23c16041189e4877e9b07925c"),
    "pretrained/f0G32k.pth": (72_795_627, "285f524bf48bb692c76ad7bd0bc654c12bd9e5edeb784dddf7f61a789a608574"),
    "pretrained/f0G40k.pth": (72_909_665, "9115654aeef1995f7dd3c6fc4140bebbef0ca9760bed798105a2380a34299831"),
    "pretrained/f0G48k.pth": (73_008_619, "78bc9cab27e34bcfc194f93029374d871d8b3e663ddedea32a9709e894cc8fe8"),
    "pretrained_v2/D32k.pth": (142_875_703, "d8043378cc6619083d385f5a045de09b83fb3bf8de45c433ca863b71723ac3ca"),
    "pretrained_v2/D40k.pth": (142_875_703, "471378e894e7191f89a94eda8288c5947b16bbe0b10c3f1f17efdb7a1d998242"),
    "pretrained_v2/D48k.pth": (142_875_703, "db01094a93c09868a278e03dafe8bb781bfcc1a5ba8df168c948bf9168c84d82"),
    "pretrained_v2/G32k.pth": (73_811_639, "869b26a47f75168d6126f64ac39e6de5247017a8658cfd68aca600f7323efb9f"),
    "pretrained_v2/G40k.pth": (72_959_671, "a3843da7fde33db1dab176146c70d6c2df06eafe9457f4e3aa10024e9c6a4b69"),
    "pretrained_v2/G48k.pth": (75_318_967, "2e2b1581a436d07a76b10b9d38765f64aa02836dc65c7dee1ce4140c11ea158b"),
    "pretrained_v2/f0D32k.pth": (142_875_703, "bd7134e7793674c85474d5145d2d982e3c5d8124fc7bb6c20f710ed65808fa8a"),
    "pretrained_v2/f0D40k.pth": (142_875_703, "6b6ab091e70801b28e3f41f335f2fc5f3f35c75b39ae2628d419644ec2b0fa09"),
    "pretrained_v2/f0D48k.pth": (142_875_703, "2269b73c7a4cf34da09aea99274dabf99b2ddb8a42cbfb065fb3c0aa9a2fc748"),
    "pretrained_v2/f0G32k.pth": (73_950_049, "2332611297b8d88c7436de8f17ef5f07a2119353e962cd93cda5806d59a1133d"),
    "pretrained_v2/f0G40k.pth": (73_106_273, "3b2c44035e782c4b14ddc0bede9e2f4a724d025cd073f736d4f43708453adfcb"),
    "pretrained_v2/f0G48k.pth": (75_465_569, "b5d51f589cc3632d4eae36a315b4179397695042edc01d15312e1bddc2b764a4"),
}

ASSETS: tuple[Asset, ...] = (
    Asset(
        "hubert_base", RVC_REPO, "hubert_base.pt", "hubert/hubert_base.pt", 189_507_909,
        "f54b40fd2802423a5643779c4861af1e9ee9c1564dc9d32f54f20b5ffba7db96",
    ),
    Asset(
        "rmvpe", RVC_REPO, "rmvpe.pt", "rmvpe/rmvpe.pt", 181_184_272,
        "6d62215f4306e3ca278246188607209f09af3dc77ed4232efdd069798c4ec193",
    ),
    *(Asset(path.removesuffix(".pth"), RVC_REPO, path, path, size, sha) for path, (size, sha) in _PRETRAINED.items()),
)


def list_assets(paths: Paths | None = None) -> tuple[Asset, ...]:
    """The built-in table merged with the user's `assets/manifest.json` (its entries win by name)."""
    merged = {asset.name: asset for asset in ASSETS}
    merged.update((asset.name, asset) for asset in _load_manifest((paths or get_paths()).assets / MANIFEST_NAME))
    return tuple(merged.values())


def asset_groups(assets: Iterable[Asset]) -> list[str]:
    """Group names for the CLI: the folder part of names like `pretrained_v2/f0G40k`."""
    return sorted({asset.name.split("/")[0] for asset in assets if "/" in asset.name})


def select_assets(names: Iterable[str], paths: Paths | None = None) -> list[Asset]:
    """The assets that CLI names stand for: `all`, a group (`pretrained_v2`) or exact names, in table order."""
    table = list_assets(paths)
    wanted: set[str] = set()
    for name in names:
        matches = {asset.name for asset in table if name in ("all", asset.name) or asset.name.startswith(f"{name}/")}
        if not matches:
            known = ", ".join(["all", *asset_groups(table), *(asset.name for asset in table)])
            raise ValueError(f"unknown asset {name!r}; known names: {known}")
        wanted |= matches
    return [asset for asset in table if asset.name in wanted]


def find_asset(name: str, paths: Paths | None = None) -> Asset:
    """The asset called `name` (exact name, not a group)."""
    for asset in list_assets(paths):
        if asset.name == name:
            return asset
    raise KeyError(f"unknown asset {name!r}")


def asset_status(paths: Paths | None = None) -> list[AssetStatus]:
    """Present / missing / size check of every asset, without hashing (cheap enough for the System tab)."""
    paths = paths or get_paths()
    return [_status(asset, paths) for asset in list_assets(paths)]


def is_present(asset: Asset, paths: Paths | None = None) -> bool:
    """True when the file is there with the published size (or any size when none is published)."""
    status = _status(asset, paths or get_paths())
    return status.present and status.size_ok is not False


def missing_asset_message(asset: Asset, paths: Paths | None = None) -> str:
    """What to tell a person whose conversion or training needs `asset`: the file and the command that fetches it."""
    status = _status(asset, paths or get_paths())
    if status.present and status.size_ok is False:
        problem = f"is incomplete or damaged ({status.size_bytes} bytes, expected {asset.size_bytes})"
    else:
        problem = "is missing"
    return f"{asset.name} ({status.path}) {problem}. Download it with: python -m rvc download {asset.name}"


def require_asset(name: str, paths: Paths | None = None) -> Path:
    """The path of asset `name`, or `MissingAssetError` with the download command when it is missing or empty.

    A file whose size differs from the published one is still returned: users put compatible variants in these
    slots (an fp32 HuBERT, a ContentVec build), and the model loaders give a precise error for a damaged file.
    `asset_status` reports the size difference for the System tab.
    """
    asset = find_asset(name, paths)
    status = _status(asset, paths or get_paths())
    if not status.present or not status.size_bytes:
        raise MissingAssetError(missing_asset_message(asset, paths))
    return asset.path(paths)


def resolve_endpoint(endpoint: str | None = None) -> str:
    """The hub address: `endpoint`, else $RVC_HF_ENDPOINT, else $HF_ENDPOINT, else huggingface.co.

    Read at call time and passed to huggingface_hub explicitly, because the library reads HF_ENDPOINT only once,
    when it is first imported.
    """
    value = endpoint or os.environ.get(ENDPOINT_ENV) or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"hub endpoint must be an http(s) URL, not {value!r}")
    return value.rstrip("/")


def download_asset(
    asset: Asset,
    *,
    endpoint: str | None = None,
    home: str | os.PathLike[str] | None = None,
    sink: EventSink | None = None,
    retries: int = 3,
    force: bool = False,
) -> Path:
    """Fetch `asset` into `assets/` under `home` (default RVC_HOME) and return its path.

    A file already present with the right size is kept unless `force`. A cut transfer is resumed (or restarted when
    the server ignores ranges) up to `retries` times. The bytes are checked against the known size and sha256 before
    they replace anything, so a failure (`DownloadError`, `CorruptDownloadError`) leaves the final path as it was.
    Progress goes to `sink` as `download` progress events counting bytes.
    """
    paths = Paths(Path(home).resolve()) if home is not None else get_paths()
    target = asset.path(paths)
    if not force and is_present(asset, paths):
        return target
    url = _hub_url(asset, resolve_endpoint(endpoint))
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    part = Path(temp_name)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            announced = _fetch_with_retries(asset, url, stream, sink, retries)
        _verify(part, asset, announced, target)
        part.chmod(0o644)  # mkstemp makes the file private; assets are shared read-only data
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return target


def _status(asset: Asset, paths: Paths) -> AssetStatus:
    path = asset.path(paths)
    size = path.stat().st_size if path.is_file() else None
    size_ok = None if size is None or asset.size_bytes is None else size == asset.size_bytes
    return AssetStatus(asset, path, size is not None, size, size_ok)


def _load_manifest(path: Path) -> list[Asset]:
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(f"{path}: {error}") from error
    entries = data.get("assets") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ManifestError(f'{path}: expected an object {{"assets": [...]}}')
    return [_manifest_entry(entry, path) for entry in entries]


def _manifest_entry(entry: object, source: Path) -> Asset:
    names = {field.name for field in dataclasses.fields(Asset)}
    required = {field.name for field in dataclasses.fields(Asset) if field.default is dataclasses.MISSING}
    if not isinstance(entry, dict) or not required <= entry.keys() <= names:
        raise ManifestError(
            f"{source}: each entry needs {sorted(required)} and may have {sorted(names - required)}; got {entry!r}"
        )
    try:
        return Asset(**entry)
    except (TypeError, ValueError) as error:
        raise ManifestError(f"{source}: {error}") from error


def _hub_url(asset: Asset, endpoint: str) -> str:
    from huggingface_hub import hf_hub_url

    return hf_hub_url(asset.repo_id, asset.filename_in_repo, revision=asset.revision, endpoint=endpoint)


class _ProgressReporter:
    """Turns byte counts into `download` progress events, at most one per PROGRESS_INTERVAL_S plus the last one."""

    def __init__(self, asset: Asset, sink: EventSink | None) -> None:
        self.asset = asset
        self.sink = sink
        self.last_emit: float | None = None

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        due = self.last_emit is None or now - self.last_emit >= PROGRESS_INTERVAL_S
        if self.sink is not None and (due or done == total):
            self.sink.progress(PROGRESS_STAGE, done, total or 0, self.asset.name)
            self.last_emit = now


def _fetch_with_retries(asset: Asset, url: str, stream: BinaryIO, sink: EventSink | None, retries: int) -> int | None:
    """Run `_fetch` until it completes, resuming after transient failures; returns the size the server announced."""
    import httpx2

    report = _ProgressReporter(asset, sink)
    attempt = 0
    while True:
        try:
            return _fetch(url, stream, report)
        except (OSError, httpx2.HTTPError) as error:
            transient = _is_transient(error)
            if not transient or attempt == retries:
                given_up = f" (gave up after {retries} retries)" if transient and retries else ""
                raise DownloadError(f"could not download {asset.name} from {url}: {error}{given_up}") from error
            attempt += 1
            if sink is not None:
                sink.log(f"{asset.name}: transfer interrupted ({error}); retry {attempt} of {retries}", "warning")
            time.sleep(RETRY_WAIT_S * attempt)


def _fetch(url: str, stream: BinaryIO, report: Callable[[int, int | None], None]) -> int | None:
    """One GET through huggingface_hub's HTTP session, continuing after the bytes already in `stream`."""
    from huggingface_hub import constants, get_session, hf_raise_for_status
    from huggingface_hub.utils import build_hf_headers

    done = stream.tell()
    # The files are public: no token, so a mirror endpoint never sees the user's Hugging Face credentials.
    headers = build_hf_headers(token=False, headers={"Accept-Encoding": "identity"})
    if done:
        headers["Range"] = f"bytes={done}-"
    with get_session().stream("GET", url, headers=headers, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT) as response:
        if response.status_code >= 400:
            response.read()  # the hub's error details are in the body
            hf_raise_for_status(response)
        if done and response.status_code != 206:  # the server ignored the range: start again
            stream.seek(0)
            stream.truncate()
            done = 0
        total = _announced_size(response.headers)
        report(done, total)
        for chunk in response.iter_bytes():  # as they arrive, so a cut loses nothing already received
            stream.write(chunk)
            done += len(chunk)
            report(done, total)
    return total


def _announced_size(headers: Mapping[str, str]) -> int | None:
    """The whole file's size: the `/total` of Content-Range for a resumed transfer, else Content-Length."""
    content_range = headers.get("Content-Range")
    if content_range and "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
        return int(content_range.rsplit("/", 1)[1])
    length = headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _is_transient(error: Exception) -> bool:
    """Network trouble and busy servers are worth another try; hub answers like 404, offline mode or a full disk not."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(error, HfHubHTTPError):
        return error.response is not None and error.response.status_code in RETRY_STATUS_CODES
    return isinstance(error, httpx2.TransportError)


def _verify(part: Path, asset: Asset, announced_size: int | None, target: Path) -> None:
    """Raise `CorruptDownloadError` unless `part` has the expected size and sha256 (the ones that are known)."""
    expected_size = asset.size_bytes if asset.size_bytes is not None else announced_size
    size = part.stat().st_size
    if expected_size is not None and size != expected_size:
        problem = f"has {size} bytes, expected {expected_size}"
    elif asset.sha256 is not None and (actual := _sha256(part)) != asset.sha256:
        problem = f"has sha256 {actual}, expected {asset.sha256}"
    else:
        return
    raise CorruptDownloadError(
        f"downloaded {asset.name} ({asset.repo_id}/{asset.filename_in_repo}) {problem}; {target} was not changed"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def pretrained_pair(version: str, sample_rate: str, f0: bool, paths: Paths | None = None) -> tuple[Path, Path] | None:
    """The pretrained base G and D for (version, "40k", f0) when both files are present, else None.

    Fine-tuning from them is what makes a usable voice from minutes of audio; without them training starts from
    random weights, which the caller should say.
    """
    folder = "pretrained" if version == "v1" else "pretrained_v2"
    prefix = "f0" if f0 else ""
    pair = []
    for kind in ("G", "D"):
        asset = find_asset(f"{folder}/{prefix}{kind}{sample_rate}", paths)
        if not is_present(asset, paths):
            return None
        pair.append(asset.path(paths))
    return pair[0], pair[1]
