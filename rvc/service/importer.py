"""Import a model from a URL: a Hugging Face file or repo, a direct link, or a zip holding a `.pth` and its `.index`.

`import_model(url)` checks the URL and queues a task (`python -m rvc import URL`); the task runs
`import_from_url`, which downloads into a private folder under assets/ (size limit enforced while the bytes
arrive, progress in bytes), unpacks zips safely (no member outside the folder, no links, total size limited),
checks every `.pth` is a loadable RVC model and moves the files into assets/weights and assets/indices. An
existing model or index is never replaced: the import fails and says which name is taken.

A server that downloads what clients name must not become a way into the private network around it: a host
that resolves to a loopback, private, link-local, multicast or otherwise non-public address (also when one is
wrapped in an IPv6 form, or spelt as a number like 2130706433) is refused. The name is resolved once per
connection, every address checked, and the connection made to a checked address (Host and TLS SNI still name
the host), so a DNS answer that changes between the check and the connection (rebinding) cannot slip through,
and every redirect is checked the same way. Developers who serve test files locally set
`RVC_IMPORT_ALLOW_PRIVATE=1` (any address) or a list of `ADDRESS:PORT` destinations (`127.0.0.1:8000`).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import httpcore
import httpx

from rvc.assets import resolve_endpoint
from rvc.config import Paths, get_paths
from rvc.events import EventSink
from rvc.retrieval import load_index
from rvc.service.archives import CHUNK_BYTES, Budget, unpack
from rvc.service.errors import Conflict, NotAllowed, TooLarge
from rvc.service.jobs import command_argv, require_command, submit
from rvc.service.models import check_model_name
from rvc.settings import load_settings
from rvc.synth import load_checkpoint

ALLOW_PRIVATE_ENV = "RVC_IMPORT_ALLOW_PRIVATE"
MODEL_FILES = (".pth", ".index")  # what an imported zip may hold
IMPORTABLE_SUFFIXES = (*MODEL_FILES, ".zip")
PROGRESS_STAGE = "download"
PROGRESS_INTERVAL_S = 0.5
TIMEOUT_S = 30.0
_EMBEDDING_V4 = (ipaddress.ip_network("::/96"), ipaddress.ip_network("64:ff9b::/96"))  # v4 in its last 32 bits


# --- the URL ------------------------------------------------------------------------------------------------


def _private_destinations() -> set[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]] | None:
    """What `ALLOW_PRIVATE_ENV` lets through besides public addresses: None for any address, else the
    (address, port) pairs it lists.
    """
    value = os.environ.get(ALLOW_PRIVATE_ENV, "").strip()
    if value.lower() in ("1", "true", "yes"):
        return None
    allowed = set()
    for item in filter(None, (part.strip() for part in value.split(","))):
        address, _, port = item.rpartition(":")
        try:
            allowed.add((ipaddress.ip_address(address.strip("[]")), int(port)))
        except ValueError:
            raise ValueError(f"{ALLOW_PRIVATE_ENV}: {item!r} is not ADDRESS:PORT (or set it to 1)") from None
    return allowed


def _embedded(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64)."""
    if ip.version == 4:
        return []
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    found += [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) for network in _EMBEDDING_V4 if ip in network]
    return [address for address in found if address is not None]


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast and all(_is_public(inner) for inner in _embedded(ip))


def vetted_addresses(host: str | None, port: int) -> list[str]:
    """The addresses ``host`` resolves to (resolved here, once), after checking every one of them: public, or
    allowed by `ALLOW_PRIVATE_ENV`; NotAllowed names the first that is not.
    """
    if not host:
        raise ValueError("the URL names no host")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise ValueError(f"cannot resolve the host {host!r}: {error}") from error
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    allowed = _private_destinations()
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not _is_public(ip) and allowed is not None and (ip, port) not in allowed:
            raise NotAllowed(f"{host} resolves to a private or local address ({ip}); imports reach public hosts only")
    return addresses


def check_import_url(url: str) -> None:
    """An http(s) URL to a public host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{url!r} is not an http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise ValueError(f"{url!r}: {error}") from error
    vetted_addresses(parts.hostname, port)


class _VettedBackend(httpcore.NetworkBackend):
    """httpcore's network backend that connects only to an address it has just checked (`vetted_addresses`):
    httpx would otherwise resolve the name again when connecting, and a second answer may differ from the first.
    """

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        error = httpcore.ConnectError(f"{host} has no address to connect to")
        for address in vetted_addresses(host, port):
            try:
                return self._backend.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as failed:
                error = failed
        raise error

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise NotAllowed("imports reach hosts over TCP only")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _vetted_client() -> httpx.Client:
    """An httpx client whose every connection (first request and each redirect) goes through `_VettedBackend`;
    no proxy from the environment, since a proxy would resolve the names itself.
    """
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx has no parameter for httpcore's network backend: its pool is swapped for one with ours
    transport._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), network_backend=_VettedBackend())
    return httpx.Client(transport=transport, follow_redirects=True, timeout=TIMEOUT_S, trust_env=False)


def import_model(url: str) -> dict[str, Any]:
    """Queue the import of ``url`` (see the module's docstring); returns the task."""
    check_import_url(url)
    require_command("import")
    return submit("import", command_argv("import", [url]), params={"url": url})


def _file_name(url: str) -> str:
    return unquote(PurePosixPath(urlsplit(url).path).name)


def sources(url: str) -> list[str]:
    """The file URLs ``url`` stands for: a Hugging Face repo's `.pth`/`.index`/`.zip` files, a hub page of one file
    (`/blob/` becomes `/resolve/`), or the URL itself.
    """
    endpoint = resolve_endpoint()
    parts = urlsplit(url)
    if parts.netloc != urlsplit(endpoint).netloc:
        return [url]
    segments = [unquote(s) for s in parts.path.strip("/").split("/")]
    if len(segments) == 2:
        return _repo_files("/".join(segments), endpoint)
    if len(segments) > 4 and segments[2] in ("blob", "resolve"):
        return [f"{endpoint}/{'/'.join(segments[:2])}/resolve/{'/'.join(segments[3:])}"]
    return [url]


def _repo_files(repo_id: str, endpoint: str) -> list[str]:
    from huggingface_hub import HfApi, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.hf_api import RepoFile

    try:
        entries = list(HfApi(endpoint=endpoint).list_repo_tree(repo_id, recursive=True, token=False))
    except HfHubHTTPError as error:
        raise FileNotFoundError(f"cannot list the Hugging Face repo {repo_id}: {error}") from error
    files = [e.path for e in entries if isinstance(e, RepoFile) and e.path.endswith(IMPORTABLE_SUFFIXES)]
    if not files:
        raise FileNotFoundError(f"the Hugging Face repo {repo_id} holds no .pth, .index or .zip file")
    return [hf_hub_url(repo_id, path, endpoint=endpoint) for path in sorted(files)]


# --- download -----------------------------------------------------------------------------------------------


def download(url: str, folder: Path, budget: Budget, sink: EventSink) -> Path:
    """Stream ``url`` into ``folder``; TooLarge as soon as the limit is passed (announced or counted)."""
    with _vetted_client() as client:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise FileNotFoundError(f"{url}: the server answered {response.status_code}")
            name = _download_name(response) or _file_name(url)
            if not name.lower().endswith(IMPORTABLE_SUFFIXES):
                raise ValueError(f"{url}: {name!r} is not a .pth, .index or .zip file")
            announced = int(response.headers.get("content-length") or 0) or None
            if announced is not None and budget.used + announced > budget.limit_bytes:
                raise TooLarge(f"{name} ({announced // 2**20} MB) is larger than the limit of "
                               f"{budget.limit_bytes // 2**20} MB")
            target = folder / Path(name).name
            done, last = 0, 0.0
            with open(target, "wb") as file:
                for chunk in response.iter_bytes(CHUNK_BYTES):
                    budget.take(len(chunk))
                    file.write(chunk)
                    done += len(chunk)
                    if time.monotonic() - last >= PROGRESS_INTERVAL_S:
                        sink.progress(PROGRESS_STAGE, done, announced or done, name)
                        last = time.monotonic()
            sink.progress(PROGRESS_STAGE, done, done, name)
    return target


def _download_name(response: httpx.Response) -> str | None:
    """The file name of a `Content-Disposition: attachment; filename=...` answer (path parts dropped)."""
    disposition = response.headers.get("content-disposition", "")
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename" and value:
            return Path(value.strip('"')).name
    return None


# --- install ------------------------------------------------------------------------------------------------


def install(files: Iterable[Path], paths: Paths, sink: EventSink) -> dict[str, Any]:
    """Move the models into assets/weights and the indexes into assets/indices, after checking all of them.

    With one model, its indexes go to `assets/indices/<model>/`, which links them to the model by the
    ecosystem's rule (the index path holds the model's name).
    """
    files = list(files)
    models = [path for path in files if path.suffix == ".pth"]
    indexes = [path for path in files if path.suffix == ".index"]
    if not models:
        raise FileNotFoundError("the import holds no .pth model")
    placed: list[tuple[Path, Path]] = []
    widths = set()
    for model in models:
        check_model_name(model.stem)
        # a damaged or foreign file fails here, before anything is installed
        widths.add(load_checkpoint(model).config.phone_dim)
        placed.append((model, paths.weights / model.name))
    index_folder = paths.indices / models[0].stem if len(models) == 1 else paths.indices
    for index in indexes:
        _check_index(index, widths)
        placed.append((index, index_folder / index.name))
    taken = [str(target) for _, target in placed if target.exists()]
    if taken:
        raise Conflict(f"not replacing what exists: {', '.join(taken)} (rename or delete it first)")
    for source, target in placed:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        sink.artifact("model" if target.suffix == ".pth" else "index", str(target))
    return {"models": [target.stem for _, target in placed if target.suffix == ".pth"],
            "indexes": [str(target) for _, target in placed if target.suffix == ".index"]}


def _check_index(index: Path, widths: set[int]) -> None:
    """A readable faiss index whose vectors have the width of (one of) the imported models' features."""
    loaded = load_index(index)  # IndexFileError naming the file when it is not an index
    if loaded.dim not in widths:
        loaded.check_dim(min(widths))  # IndexMismatchError naming the file and both widths


def import_from_url(url: str, sink: EventSink, limit_bytes: int | None = None, paths: Paths | None = None) -> dict:
    """Download, unpack, check and install what ``url`` holds (see the module's docstring); the task's work."""
    check_import_url(url)
    paths = paths or get_paths()
    budget = Budget(limit_bytes or load_settings(paths).upload_limit_mb * 2**20)
    paths.assets.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".import-", dir=paths.assets) as work:
        folder = Path(work)
        files: list[Path] = []
        for source in sources(url):
            downloaded = download(source, folder, budget, sink)
            is_zip = downloaded.suffix == ".zip"
            files += unpack(downloaded, folder / downloaded.stem, budget, MODEL_FILES) if is_zip else [downloaded]
        return install(files, paths, sink)
