"""Hostile requests against one real `webui.py`: a path traversal corpus through every REST endpoint and Gradio
api_name that takes a path (and Gradio's own file route), and uploads judged by size while they stream and by
content, not by name.

Every hostile form is tried twice, aimed once at a file that exists outside the allowed roots ("present") and
once at one that does not ("missing"). An escape is an answer that shows anything of the outside: a success for
the present target, the secret text in an answer, or two answers that differ once the words "present" and
"missing" are blanked (then the server told whether the file is there). No answer may be a server error.
"""

from __future__ import annotations

import io
import json
import os
import re
import select
import shutil
import socket
import struct
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import faiss
import httpx
import numpy as np
import pytest
import soundfile
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from rvc.jobs import JobStore, TaskStatus
from tests.factories import tiny_pth
from tests.integration.live_server import TOKEN, live_webui

pytestmark = pytest.mark.slow

SECRET = "rvc-outside-secret-5d1c7a"
KINDS = {"file": ".wav", "dir": "_dir", "model": ".pth", "index": ".index", "text": ".txt"}
LIMIT_MB = 1
FIXED = [  # hostile paths without a present/missing twin: only no server error and no secret in the answer
    "/etc/passwd", "/etc/shadow", "/root", "/root/.bashrc", "/proc/self/environ", "/dev/zero", "/dev/stdin", "/",
    ".", "..", "~", "~root/.bashrc", "\\\\server\\share\\x", "C:\\Windows\\win.ini", "C:", "....//....//etc/passwd",
    "..;/..;/etc/passwd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "uploads/" + "a" * 5000, "\ud800", "uploads/\x00",
]
GRADIO_REFUSED = "The upstream Gradio app has raised an exception"  # what an unexpected exception looks like
# Gradio runs the calls of one api_name one at a time, so its inputs get a subset of the forms (the REST run
# drives all of them into the same service functions); each still meets every kind of trick.
GRADIO_FORMS = ("absolute", ".. from RVC_HOME", "URL-encoded", "backslashes", "NUL after a good name",
                "link to a file out", "link to a folder out", "very long (5 KB)", "fullwidth dots",
                "padded with spaces")
GRADIO_FIXED = ("/etc/passwd", "/", "..", "~", "C:\\Windows\\win.ini", "uploads/" + "a" * 5000)
FILE_DATA = ("audio_file", "f0_file")  # inputs of files, where a client could name a path on the server


def unique(path: str, variant: str) -> str:
    """A name for what a request would create, the same for both targets of a pair once blanked."""
    return f"{variant}-{abs(hash(path.replace(variant, '~'))) % 10**8}"


def encode(text: str) -> str:
    return "".join(f"%{byte:02x}" for byte in text.encode())


def hostile_forms(home: Path, outside: Path) -> dict[str, Callable[[str], str]]:
    """Each traversal trick as a function of the target's file name (a file or folder in ``outside``)."""
    up = os.path.relpath(outside, home)  # ../outside

    def target(name: str) -> str:
        return str(outside / name)

    return {
        "absolute": target,
        "absolute, doubled slash": lambda n: "/" + target(n),
        "absolute, trailing /.": lambda n: target(n) + "/.",
        ".. from RVC_HOME": lambda n: f"{up}/{n}",
        ".. from uploads": lambda n: f"uploads/../{up}/{n}",
        ".. from assets/weights": lambda n: f"assets/weights/../../{up}/{n}",
        ".. chain to /": lambda n: "uploads/" + "../" * 16 + target(n).lstrip("/"),
        "dot segments": lambda n: f"uploads/./.././/{up}/{n}",
        "URL-encoded": lambda n: "uploads/" + encode(f"../{up}/") + n,
        "URL-encoded absolute": lambda n: encode(f"{outside}/") + n,
        "double-encoded": lambda n: "uploads/" + encode(f"../{up}/").replace("%", "%25") + n,
        "overlong UTF-8 dots": lambda n: f"uploads/%c0%ae%c0%ae/%c0%ae%c0%ae/{outside.name}/{n}",
        "backslashes": lambda n: "uploads\\..\\" + up.replace("/", "\\") + "\\" + n,
        "drive letter": lambda n: "C:" + target(n).replace("/", "\\"),
        "UNC share": lambda n: "\\\\localhost\\" + target(n).lstrip("/").replace("/", "\\"),
        "file URL": lambda n: "file://" + target(n),
        "NUL after a good name": lambda n: f"uploads/song.wav\x00/../{up}/{n}",
        "NUL before a suffix": lambda n: target(n) + "\x00.wav",
        "~ then ..": lambda n: "~/" + "../" * 8 + target(n).lstrip("/"),
        "link to a file out": lambda n: f"uploads/link-{n}",
        "link to a folder out": lambda n: f"uploads/outlink/{n}",
        "link to a folder out, then ..": lambda n: f"uploads/outlink/../{outside.name}/{n}",
        "very long (5 KB)": lambda n: "uploads/" + "x/" * 1100 + "../" * 1101 + f"{up}/{n}",
        "part over 255 bytes": lambda n: "uploads/" + "a" * 300 + f"/../../{up}/{n}",
        "two-dot leader": lambda n: f"uploads/\u2025/{up}/{n}",
        "fullwidth dots": lambda n: f"\uff0e\uff0e/{outside.name}/{n}",
        "division slash": lambda n: f"uploads\u2215..\u2215..\u2215{outside.name}\u2215{n}",
        "zero-width space": lambda n: f"uploads/..\u200b/../{up}/{n}",
        "padded with spaces": lambda n: f"  {target(n)}  ",
    }


@dataclass
class Site:
    url: str
    home: Path
    outside: Path
    training: str  # a training whose extract step is done and which has a checkpoint
    inference_task: str  # a completed conversion with one output inside the roots and one outside
    forms: dict[str, Callable[[str], str]] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"{self.url}api/v2"

    @property
    def gradio_files(self) -> list[Path]:
        """What Gradio holds in its upload folder and cache (GRADIO_TEMP_DIR)."""
        return sorted(path for path in (self.home.parent / "gradio").rglob("*") if path.is_file())


def wav_bytes(seconds: float = 0.3) -> bytes:
    buffer = io.BytesIO()
    tone = 0.3 * np.sin(np.arange(int(16000 * seconds)) / 16000 * 2 * np.pi * 220).astype(np.float32)
    soundfile.write(buffer, tone, 16000, format="WAV")
    return buffer.getvalue()


def index_bytes(dim: int = 768) -> bytes:
    index = faiss.IndexFlatL2(dim)
    index.add(np.zeros((2, dim), dtype=np.float32))
    return faiss.serialize_index(index).tobytes()


def build_outside(outside: Path, uploads: Path) -> None:
    """Every kind's "present" target (with the secret where it is text) and links to both targets from inside."""
    (outside / "present_dir").mkdir(parents=True)
    (outside / "present_dir" / "clip.wav").write_bytes(wav_bytes())
    (outside / "present.wav").write_bytes(wav_bytes())
    shutil.copy(tiny_pth("tiny_v2_f0_40k"), outside / "present.pth")
    (outside / "present.index").write_bytes(index_bytes())
    (outside / "present.txt").write_text(f"0.0 {SECRET}\n")
    for suffix in KINDS.values():
        for variant in ("present", "missing"):
            os.symlink(outside / f"{variant}{suffix}", uploads / f"link-{variant}{suffix}")
    os.symlink(outside, uploads / "outlink")


def seed_jobs(home: Path, outside: Path) -> tuple[str, str]:
    """A training ready to train and export, and a finished conversion, as a dead server would have left them."""
    store = JobStore(home / "logs" / "webui.db")
    try:
        training = store.create_training("seeded", "40k", True, "v2", str(home / "uploads"))
        extract = store.create_task("extract", ["extract", "seeded"], {}, "cpu", training.id)
        conversion = store.create_task("inference", [], {}, "cpu")
        for task in (extract, conversion):
            store.set_status(task.id, TaskStatus.RUNNING, started=time.time())
            store.set_status(task.id, TaskStatus.COMPLETED, finished=time.time(), result={})
        for path in (home / "outputs" / "inside.wav", outside / "present.wav"):
            store.append_event(conversion.id, "artifact", {"kind": "audio", "path": str(path)})
    finally:
        store.close()
    (home / "outputs" / "inside.wav").write_bytes(wav_bytes())
    (home / "logs" / "seeded" / "G_100.pth").write_bytes(b"a checkpoint's place")
    return training.id, conversion.id


@pytest.fixture(scope="module")
def site(tmp_path_factory, rvc_home: Path) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("hostile")
    home, outside = root / "home", root / "outside"
    for folder in ("assets/weights", "uploads/set", "outputs", "logs/seeded"):
        (home / folder).mkdir(parents=True)
    for name in ("tiny", "victim"):
        shutil.copy(tiny_pth("tiny_v2_f0_40k"), home / "assets" / "weights" / f"{name}.pth")
    (home / "uploads" / "song.wav").write_bytes(wav_bytes())
    (home / "uploads" / "set" / "clip.wav").write_bytes(wav_bytes())
    (home / "settings.json").write_text(json.dumps({"upload_limit_mb": LIMIT_MB}))
    build_outside(outside, home / "uploads")
    training, conversion = seed_jobs(home, outside)
    env = dict(os.environ, RVC_HOME=str(home), RVC_EMBEDDER=str(rvc_home / "embedder"), OMP_NUM_THREADS="1",
               GRADIO_TEMP_DIR=str(root / "gradio"))  # Gradio's uploads and cache, to see what it stored
    with live_webui(env) as url:
        yield Site(url, home, outside, training, conversion, hostile_forms(home, outside))


# --- the tally ------------------------------------------------------------------------------------------------


Answer = tuple[bool, str]  # (accepted, what the answer says)


@dataclass
class Tally:
    """Inputs tried per front end, and what went wrong."""

    tried: Counter = field(default_factory=Counter)
    escapes: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)

    def judge_pair(self, front: str, label: str, present: Answer | None, missing: Answer | None) -> None:
        """The answers for the present and the missing target (None: the client could not even send it)."""
        if present is None or missing is None:
            return
        self.tried[front] += 2
        blank = [text.replace("present", "~").replace("missing", "~") for _, text in (present, missing)]
        if present[0]:
            self.escapes.append(f"{label}: accepted: {present[1][:300]}")
        elif blank[0] != blank[1]:
            self.escapes.append(f"{label}: answers differ:\n  {present[1][:300]}\n  {missing[1][:300]}")
        self.judge_text(label, present[1] + missing[1])

    def judge_fixed(self, front: str, label: str, answer: Answer | None) -> None:
        if answer is not None:
            self.tried[front] += 1
            self.judge_text(label, answer[1])

    def judge_text(self, label: str, text: str) -> None:
        if SECRET in text:
            self.escapes.append(f"{label}: the secret is in the answer")
        if "5xx" in text[:3] or GRADIO_REFUSED in text:
            self.server_errors.append(f"{label}: {text[:300]}")


def run_all(jobs: list[Callable[[], None]], workers: int = 8) -> None:
    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


def pairs(site: Site, kind: str, only: tuple[str, ...] | None = None) -> Iterator[tuple[str, str, str]]:
    """(form name, hostile path at the present target, the same at the missing one) for a kind of target."""
    for name, form in site.forms.items():
        if only is None or name in only:
            yield name, form(f"present{KINDS[kind]}"), form(f"missing{KINDS[kind]}")


# --- REST -------------------------------------------------------------------------------------------------------

Request = Callable[[str, str], tuple[str, str, dict[str, Any]]]  # (hostile path, variant) -> method, path, options


def rest_targets(site: Site) -> dict[str, tuple[str, Request]]:
    """Every REST parameter that takes a path or a file name, with the kind of target it names."""
    t, task = site.training, site.inference_task
    song = "uploads/song.wav"

    def body(**values: Any) -> dict[str, Any]:
        return {"json": values}

    return {
        "GET /system/files/browse path (folder)": ("dir", lambda p, v: ("GET", "/system/files/browse",
                                                                        {"params": {"path": p}})),
        "GET /system/files/browse path (file)": ("file", lambda p, v: ("GET", "/system/files/browse",
                                                                       {"params": {"path": p}})),
        "POST /inference/tasks audio_path": ("file", lambda p, v: ("POST", "/inference/tasks", body(
            model_id="tiny", audio_path=p, index=None))),
        "POST /inference/tasks index": ("index", lambda p, v: ("POST", "/inference/tasks", body(
            model_id="tiny", audio_path=song, index=p, params={"index_rate": 0.5}))),
        "POST /inference/tasks params.f0_file": ("text", lambda p, v: ("POST", "/inference/tasks", body(
            model_id="tiny", audio_path=song, index=None, params={"f0_file": p}))),
        "POST /inference/tasks model_id": ("model", lambda p, v: ("POST", "/inference/tasks", body(
            model_id=p, audio_path=song, index=None))),
        "POST /trainings dataset_path": ("dir", lambda p, v: ("POST", "/trainings", body(
            name=f"t-{unique(p, v)}", target_sr="40k", dataset_path=p))),
        "POST /quick/tasks dataset_path": ("dir", lambda p, v: ("POST", "/quick/tasks", body(
            name=f"q-{unique(p, v)}", dataset_path=p))),
        "POST /trainings/{id}/train/start pretrained_g": ("model", lambda p, v: ("POST", f"/trainings/{t}/train/start",
                                                                                 body(pretrained_g=p))),
        "POST /trainings/{id}/train/start pretrained_d": ("model", lambda p, v: ("POST", f"/trainings/{t}/train/start",
                                                                                 body(pretrained_d=p))),
        "POST /trainings/{id}/export checkpoint_name": ("model", lambda p, v: ("POST", f"/trainings/{t}/export", body(
            checkpoint_name=p, export_name=f"e-{v}"))),
        "GET /trainings/{id}/preprocess/samples/{name}": ("file", lambda p, v: (
            "GET", f"/trainings/{t}/preprocess/samples/{quote(p, safe='')}", {})),
        "GET /inference/tasks/{id}/outputs/{filename}": ("file", lambda p, v: (
            "GET", f"/inference/tasks/{task}/outputs/{quote(p, safe='')}", {})),
        "GET /models/{model_id}": ("model", lambda p, v: ("GET", f"/models/{quote(p, safe='')}", {})),
        "DELETE /models/{model_id}": ("model", lambda p, v: ("DELETE", f"/models/{quote(p, safe='')}", {})),
        "PATCH /models/{model_id} name": ("model", lambda p, v: ("PATCH", "/models/victim", body(name=p))),
        "POST /models/merge model_a": ("model", lambda p, v: ("POST", "/models/merge", body(
            model_a=p, model_b="tiny", name=f"m-{v}"))),
        "POST /models/merge name": ("model", lambda p, v: ("POST", "/models/merge", body(
            model_a="tiny", model_b="tiny", name=p))),
    }


def rest_answer(client: httpx.Client, make: Request, path: str, variant: str) -> Answer | None:
    try:
        method, url, options = make(path, variant)
        answer = client.request(method, url, **options)
    except UnicodeEncodeError:  # a lone surrogate cannot go into a URL
        return None
    except httpx.TransportError as error:  # uvicorn drops a request line past its limit (h11: 16 KB)
        assert len(url) > 8000, f"{method} {url[:200]} {str(options)[:300]}: {error!r}"
        return False, "the HTTP server closed the connection"
    text = ("5xx " if answer.status_code >= 500 else "") + f"{answer.status_code} {answer.text}"
    return answer.status_code < 300, text


def test_rest_traversal_corpus_never_escapes(site: Site):
    tally = Tally()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    fresh = httpx.Limits(max_keepalive_connections=0)  # no reuse of a connection the server may be closing
    with httpx.Client(base_url=site.api, headers=headers, timeout=60, limits=fresh) as client:
        def pair_job(label: str, make: Request, present: str, missing: str) -> Callable[[], None]:
            return lambda: tally.judge_pair("REST", label, rest_answer(client, make, present, "present"),
                                            rest_answer(client, make, missing, "missing"))

        def fixed_job(label: str, make: Request, path: str) -> Callable[[], None]:
            return lambda: tally.judge_fixed("REST", label, rest_answer(client, make, path, "fixed"))

        jobs = []
        for endpoint, (kind, make) in rest_targets(site).items():
            jobs += [pair_job(f"{endpoint} [{form}]", make, present, missing)
                     for form, present, missing in pairs(site, kind)]
            jobs += [fixed_job(f"{endpoint} [{path[:40]!r}]", make, path) for path in FIXED]
        run_all(jobs)

        listed = client.get(f"/inference/tasks/{site.inference_task}/outputs").json()
        assert [output["name"] for output in listed] == ["inside.wav"]  # the artifact outside is not offered
        root_listing = client.get("/system/files/browse", params={"path": "uploads"}).json()["entries"]
        assert {entry["name"] for entry in root_listing} == {"song.wav", "set"}  # links out are left out
    print(f"\nREST traversal: {tally.tried['REST']} tried, {len(tally.escapes)} escaped, "
          f"{len(tally.server_errors)} server errors")

    assert tally.escapes == [] and tally.server_errors == [], "\n".join(tally.escapes + tally.server_errors)
    assert not list((site.home / "assets" / "weights").glob("*-present*"))


# --- Gradio -----------------------------------------------------------------------------------------------------


def convert_args(**changes: Any) -> dict[str, Any]:
    values = dict(audio_file=None, server_path="", model="tiny", index="none", transpose=0, f0_method="pm",
                  index_rate=0, filter_radius=3, resample_sr=0, rms_mix_rate=1, protect=0.33, sid=0, noise_scale=0,
                  f0_file=None, output_format="wav")
    return values | changes


GradioCall = Callable[[str, str], dict[str, Any]]  # (hostile path, variant) -> keyword arguments


def gradio_targets() -> dict[tuple[str, str], tuple[str, GradioCall]]:
    """Every Gradio input that takes a path (or a name that becomes one): (api_name, parameter) -> (kind of
    target, the call's keyword arguments).
    """
    song = "uploads/song.wav"
    batch = {key: value for key, value in convert_args().items() if key not in ("audio_file", "server_path")}
    preprocess = dict(target_sr="40k", version="v2", if_f0=True, files=None, n_proc=1, config_path="")
    oneclick = dict(files=None, preset="fast", config_path="", epochs=None)
    train = dict(name="seeded", epochs=1, batch_size=1, save_every=1, latest_only=False, cache_in_gpu=False,
                 save_small_each=False, pretrained_g="", pretrained_d="", devices="cpu")

    def file_data(path: str) -> dict[str, str]:  # a path the server would read itself, not an upload
        return {"path": path}

    return {
        ("/convert", "server_path"): ("file", lambda p, v: convert_args(server_path=p)),
        ("/convert", "model"): ("model", lambda p, v: convert_args(server_path=song, model=p)),
        ("/convert", "index"): ("index", lambda p, v: convert_args(server_path=song, index=p, index_rate=0.5)),
        ("/convert", "audio_file"): ("file", lambda p, v: convert_args(audio_file=file_data(p))),
        ("/convert", "f0_file"): ("text", lambda p, v: convert_args(server_path=song, f0_file=file_data(p))),
        ("/convert_batch", "folder"): ("dir", lambda p, v: batch | dict(files=None, folder=p)),
        ("/convert_batch", "model"): ("model", lambda p, v: batch | dict(files=None, folder="uploads/set", model=p)),
        ("/convert_batch", "index"): ("index", lambda p, v: batch | dict(files=None, folder="uploads/set", index=p,
                                                                       index_rate=0.5)),
        ("/match_index", "model"): ("model", lambda p, v: dict(model=p)),
        ("/model_detail", "model"): ("model", lambda p, v: dict(model=p)),
        ("/delete_model", "model"): ("model", lambda p, v: dict(model=p, confirmed=True)),
        ("/set_model_info", "model"): ("model", lambda p, v: dict(model=p, info="hostile")),
        ("/rename_model", "new_name"): ("model", lambda p, v: dict(model="victim", new_name=p)),
        ("/merge_models", "model_a"): ("model", lambda p, v: dict(model_a=p, model_b="tiny", alpha=0.5,
                                                                  name=f"m-{v}", info="")),
        ("/preprocess", "server_path"): ("dir", lambda p, v: preprocess | dict(name=f"g-{unique(p, v)}",
                                                                                server_path=p)),
        ("/preprocess", "config_path"): ("text", lambda p, v: preprocess | dict(name=f"c-{v}", config_path=p,
                                                                                 server_path="uploads/set")),
        ("/oneclick", "server_path"): ("dir", lambda p, v: oneclick | dict(name=f"o-{unique(p, v)}", server_path=p)),
        ("/oneclick", "config_path"): ("text", lambda p, v: oneclick | dict(name=f"k-{v}", server_path="uploads/set",
                                                                             config_path=p)),
        ("/train", "pretrained_g"): ("model", lambda p, v: train | dict(pretrained_g=p)),
        ("/export_model", "checkpoint"): ("model", lambda p, v: dict(name="seeded", checkpoint=p, export_name=f"x-{v}",
                                                                     overwrite=False)),
        ("/extract_small_model", "checkpoint"): ("model", lambda p, v: dict(experiment="seeded", checkpoint=p,
                                                                            name=f"s-{v}")),
    }


# Path-like inputs the corpus leaves out, and why (the coverage check below fails on any other one).
NOT_DRIVEN = {
    ("/convert_batch", "files"): "uploads (FileData): Gradio's own check, driven on /convert audio_file",
    ("/convert_batch", "f0_file"): "ignored by batches; FileData as /convert f0_file",
    ("/preprocess", "files"): "uploads (FileData), as above",
    ("/oneclick", "files"): "uploads (FileData), as above",
    ("/merge_models", "model_b"): "the same check as model_a",
    ("/train", "pretrained_d"): "the same check as pretrained_g",
    ("/export_onnx", "model"): "the same check as /model_detail (model_path)",
    ("/rename_model", "model"): "the same check as /model_detail (model_path)",
    ("/extract_small_model", "experiment"): "a training's name, looked up, never a path",
    ("/save_settings", "allowed_paths"): "the admin's setting that defines the roots (see the report)",
}
PATH_LIKE = re.compile(r"^(.*path|.*_paths|folder|files?|.*_file|model(_[ab])?|index|pretrained_[gd]|checkpoint|"
                       r"experiment|new_name)$")


def gradio_answer(client: Client, api_name: str, arguments: dict[str, Any], tries: int = 3) -> Answer | None:
    """The app's answer; a call the client itself drops under load (a cancelled job) is made again."""
    try:
        return True, repr(client.predict(api_name=api_name, **arguments))
    except AppError as error:
        return False, f"AppError: {error}"
    except UnicodeEncodeError:  # a lone surrogate cannot be sent
        return None
    except (CancelledError, httpx.TransportError):
        if tries == 1:
            raise
        return gradio_answer(client, api_name, arguments, tries - 1)


def test_every_path_like_gradio_input_is_driven(site: Site):
    api = Client(site.url, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"]
    path_like = {(name, parameter["parameter_name"]) for name, endpoint in api.items()
                 for parameter in endpoint["parameters"] if PATH_LIKE.match(parameter["parameter_name"])}
    assert path_like - set(gradio_targets()) - set(NOT_DRIVEN) == set()
    assert set(gradio_targets()) | set(NOT_DRIVEN) <= path_like  # nothing stale


def test_gradio_traversal_corpus_never_escapes(site: Site):
    tally = Tally()
    client = Client(site.url, verbose=False, httpx_kwargs={"timeout": 120})

    def pair_job(label: str, api: str, make: GradioCall, present: str, missing: str) -> Callable[[], None]:
        return lambda: tally.judge_pair("Gradio", label, gradio_answer(client, api, make(present, "present")),
                                        gradio_answer(client, api, make(missing, "missing")))

    def fixed_job(label: str, api: str, make: GradioCall, path: str) -> Callable[[], None]:
        return lambda: tally.judge_fixed("Gradio", label, gradio_answer(client, api, make(path, "fixed")))

    jobs = []
    for (api, parameter), (kind, make) in gradio_targets().items():
        label = f"{api} {parameter}" + (" (FileData path)" if parameter in FILE_DATA else "")
        jobs += [pair_job(f"{label} [{form}]", api, make, present, missing) for form, present, missing in
                 pairs(site, kind, GRADIO_FORMS)]
        if parameter not in FILE_DATA:  # Gradio refuses those itself, with its generic error
            jobs += [fixed_job(f"{label} [{path[:40]!r}]", api, make, path) for path in GRADIO_FIXED]
    run_all(jobs, workers=12)
    ours = [error for error in tally.server_errors if "FileData" not in error]
    print(f"\nGradio traversal: {tally.tried['Gradio']} tried, {len(tally.escapes)} escaped, {len(ours)} server "
          f"errors (and {len(tally.server_errors) - len(ours)} FileData paths Gradio refused before our code)")
    assert tally.escapes == [] and ours == [], "\n".join(tally.escapes + ours)
    assert {path.name for path in (site.home / "assets" / "weights").iterdir()} == {"tiny.pth", "victim.pth"}


def test_gradio_file_route_never_escapes(site: Site):
    tally = Tally()
    with httpx.Client(base_url=site.url, timeout=60) as client:
        def answer(path: str) -> Answer:
            got = client.get(f"gradio_api/file={quote(path)}")
            return got.status_code < 300, ("5xx " if got.status_code >= 500 else "") + f"{got.status_code} {got.text}"

        for kind in ("file", "text", "model"):
            for form, present, missing in pairs(site, kind):
                if "\x00" not in present:
                    tally.judge_pair("Gradio file route", f"/gradio_api/file= [{form}]", answer(present),
                                     answer(missing))
    print(f"\nGradio file route: {tally.tried['Gradio file route']} tried, {len(tally.escapes)} escaped")
    assert tally.escapes == [] and tally.server_errors == []


# --- uploads ----------------------------------------------------------------------------------------------------


def upload(site: Site, name: str, content: bytes) -> httpx.Response:
    return httpx.post(f"{site.api}/system/upload", files={"file": (name, content)},
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)


def leftovers(site: Site) -> list[Path]:
    return list((site.home / "uploads").rglob(".upload-*"))


def zip_of(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "content", "claimed"), [
    ("notes.wav", b"just some text, not a RIFF file at all, sorry", "audio"),
    ("setup.mp3", b"MZ\x90\x00\x03" + bytes(200), "audio"),
    ("mpeg-ish.mp3", b"\xff\xfb\x90\x64" + b"junk" * 100, "audio"),
    ("fake.flac", b"fLaC" + bytes(300), "audio"),
    ("archive.pth", zip_of("readme.txt", b"not a model"), "PyTorch"),
    ("plain.pth", b"\x80\x04\x95" + bytes(64), "PyTorch"),
    ("notes.index", b"an index, believe me" * 4, "faiss"),
    ("model.index", zip_of("archive/data.pkl", b"x"), "faiss"),
])
def test_an_upload_whose_content_is_not_what_its_name_claims_is_415(site: Site, name: str, content: bytes,
                                                                     claimed: str):
    answer = upload(site, name, content)
    assert answer.status_code == 415, answer.text
    assert name in answer.json()["detail"] and claimed in answer.json()["detail"]
    assert not (site.home / "uploads" / name).exists() and leftovers(site) == []


def test_real_audio_models_and_indexes_are_stored(site: Site):
    stored = {name: upload(site, name, content) for name, content in [
        ("take.wav", wav_bytes()), ("voice.pth", tiny_pth("tiny_v2_f0_40k").read_bytes()),
        ("added.index", index_bytes()),
    ]}
    assert {name: answer.status_code for name, answer in stored.items()} == dict.fromkeys(stored, 201)
    assert [answer.json()["media_type"] for answer in stored.values()] == ["wav", "pytorch-zip", "faiss"]
    assert (site.home / "uploads" / "voice.pth").read_bytes() == tiny_pth("tiny_v2_f0_40k").read_bytes()


def test_hostile_upload_names_and_folders_stay_inside_uploads(site: Site):
    before = sorted(site.outside.rglob("*"))
    content = wav_bytes(0.05)

    def send(name: str, folder: str | None = None) -> httpx.Response:
        return httpx.post(f"{site.api}/system/upload", files={"file": (name, content)},
                          params={"folder": folder} if folder else {}, headers={"Authorization": f"Bearer {TOKEN}"},
                          timeout=60)

    names = [(form, hostile, None) for form, hostile, _ in pairs(site, "file") if "\x00" not in hostile]
    folders = [(form, "take.wav", hostile) for form, hostile, _ in pairs(site, "dir")]
    for form, name, folder in names + folders:
        answer = send(name, folder)
        # refused: 403 a folder that is a link out of uploads/, 409 a link that leads nowhere, 422 a name too long
        assert answer.status_code in (201, 403, 409, 422), (form, answer.text)
        if answer.status_code == 201:
            assert Path(answer.json()["path"]).parent.is_relative_to(site.home / "uploads"), form
    assert send("take.wav", "outlink").status_code == 403  # a folder that is a link out of uploads/
    assert send("take.wav", "song.wav").status_code == 409  # a folder name taken by a file
    assert sorted(site.outside.rglob("*")) == before and leftovers(site) == []
    print(f"\nupload names and folders: {len(names) + len(folders) + 2} hostile ones, all stored inside uploads/ "
          "or refused")


def test_a_chunked_upload_past_the_limit_is_stopped_while_it_streams(site: Site):
    """No Content-Length: the server can only count. It must answer 413 long before the body ends, and its
    temporary file must never grow past the limit (its size is sampled after every piece sent).
    """
    limit, total = LIMIT_MB * 2**20, 64 * 2**20
    status, sent, sizes = send_chunked_upload(site, total)
    assert status.startswith("HTTP/1.1 413"), status
    assert sent < total // 4, f"the server read {sent} bytes before answering"
    assert max(sizes) > limit // 2 and max(sizes) <= limit  # it was seen growing, and never past the limit
    assert leftovers(site) == [] and not (site.home / "uploads" / "big.wav").exists()
    print(f"\nchunked upload: 413 after {sent / 2**20:.1f} MB of {total // 2**20} MB sent; "
          f"temporary file at most {max(sizes) / 2**20:.2f} MB (limit {LIMIT_MB} MB)")


def send_chunked_upload(site: Site, total: int) -> tuple[str, int, list[int]]:
    """POST a WAV of ``total`` bytes as chunked multipart until the server answers: (status line, bytes sent,
    sizes of the temporary upload file seen along the way).
    """
    address = urlsplit(site.url)
    boundary = "hostile-boundary"
    head = (f"POST /api/v2/system/upload HTTP/1.1\r\nHost: {address.netloc}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nTransfer-Encoding: chunked\r\n\r\n")
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode() + wav_bytes()[:44]
    piece, sizes = bytes(16 * 1024), [0]
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        connection.sendall(head.encode() + chunk(part))
        sent = len(part)
        while sent < total and not select.select([connection], [], [], 0.002)[0]:
            try:
                connection.sendall(chunk(piece))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
            sizes += temporary_sizes(site)
        try:
            status = connection.recv(4096).decode("latin-1").split("\r\n")[0]
        except ConnectionResetError:
            status = "reset before an answer"
    return status, sent, sizes


def temporary_sizes(site: Site) -> list[int]:
    sizes = []
    for path in leftovers(site):
        try:
            sizes.append(path.stat().st_size)
        except FileNotFoundError:  # finished or removed meanwhile
            pass
    return sizes


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def multipart_upload(name: str, content: bytes, boundary: str = "cut-boundary") -> tuple[str, bytes]:
    """(Content-Type, body) of a multipart upload of ``content`` in the field "file"."""
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def send_raw_upload(site: Site, content_type: str, length: int, body: bytes) -> str:
    """POST ``body`` with ``Content-Length: length`` on a raw socket, half-close it and read the status line
    ("" when the server closes without an answer)."""
    address = urlsplit(site.url)
    head = (f"POST /api/v2/system/upload HTTP/1.1\r\nHost: {address.netloc}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n")
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(head.encode() + body)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer.decode("latin-1")


def test_a_body_cut_short_by_its_content_length_is_refused_and_nothing_kept(site: Site):
    """The server reads a body up to its Content-Length: one that stops before the multipart's closing boundary
    cuts the file, which still looks like audio. It is a 400 naming the cut, and no file, whole or partial, stays."""
    content_type, body = multipart_upload("cut.wav", wav_bytes(1.0))
    for cut in (40, 400, len(body) // 2):  # in the closing boundary, in the audio, half the file
        answer = send_raw_upload(site, content_type, len(body) - cut, body[:len(body) - cut])
        assert answer.startswith("HTTP/1.1 400"), answer[:300]
        assert "ends before its closing boundary" in answer and "nothing is kept" in answer
    whole = send_raw_upload(site, content_type, len(body), body)  # the control: the same body, whole, is stored
    assert whole.startswith("HTTP/1.1 201") and json.loads(whole.split("\r\n\r\n", 1)[1])["name"] == "cut.wav"
    (site.home / "uploads" / "cut.wav").unlink()
    assert not list((site.home / "uploads").glob("cut*")) and leftovers(site) == []


def test_a_body_shorter_than_its_content_length_is_dropped_when_the_client_hangs_up(site: Site):
    """A client that announces more than it sends, then closes: no answer reaches it, no file is kept, and the
    server goes on answering."""
    content_type, body = multipart_upload("hangup.wav", wav_bytes(1.0))
    for sent in (len(body) - 1, len(body) // 2, 0):
        answer = send_raw_upload(site, content_type, len(body), body[:sent])
        assert not answer.startswith("HTTP/1.1 2"), answer[:300]
    assert not list((site.home / "uploads").glob("hangup*")) and leftovers(site) == []
    assert httpx.get(f"{site.api}/system/info", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_gradio_upload_is_judged_by_content_too(site: Site, tmp_path: Path):
    fake = tmp_path / "fake.wav"
    fake.write_text("plain text under an audio name")
    client = Client(site.url, verbose=False, httpx_kwargs={"timeout": 120})
    arguments = {key: value for key, value in convert_args().items() if key not in ("audio_file", "server_path")}
    accepted, text = gradio_answer(client, "/convert_batch", arguments | dict(files=[handle_file(str(fake))],
                                                                                folder=""))
    assert not accepted and "'fake.wav' is not audio" in text
    assert not (site.home / "uploads" / "fake.wav").exists() and leftovers(site) == []


# --- Gradio's upload route: the project's limit ------------------------------------------------------------------


def gradio_upload(site: Site, content: bytes | Iterator[bytes], name: str = "big.wav") -> httpx.Response:
    if isinstance(content, bytes):
        return httpx.post(f"{site.url}gradio_api/upload", files={"files": (name, content)}, timeout=60)
    return httpx.post(f"{site.url}gradio_api/upload", content=content, timeout=60,
                      headers={"Content-Type": "multipart/form-data; boundary=x"})


def test_gradio_uploads_keep_to_the_upload_limit_as_the_settings_say(site: Site):
    """Gradio's own upload route stored any size; now a body over `upload_limit_mb` (1 MB here) is a 413 before
    a byte is read, a chunked one (no length to judge) a 411, and the limit follows a change of the setting."""
    before = site.gradio_files
    over = wav_bytes() + bytes(3 * 2**20)  # 3 MB
    refused = gradio_upload(site, over)
    assert refused.status_code == 413 and "larger than the limit of 1 MB" in refused.text
    chunked = gradio_upload(site, (bytes(2**16) for _ in range(48)))
    assert chunked.status_code == 411 and "Content-Length" in chunked.text
    assert site.gradio_files == before  # nothing stored, not even in part
    small = gradio_upload(site, wav_bytes(), "small.wav")
    assert small.status_code == 200 and Path(small.json()[0]).read_bytes() == wav_bytes()
    settings = site.home / "settings.json"
    try:
        settings.write_text(json.dumps({"upload_limit_mb": 4}))
        assert gradio_upload(site, over).status_code == 200  # the new limit, without a restart
    finally:
        settings.write_text(json.dumps({"upload_limit_mb": LIMIT_MB}))
    assert gradio_upload(site, over).status_code == 413


# --- stored content: media or downloads, never pages ------------------------------------------------------------

SCRIPT = b"<html><body><script>document.title = 'pwned'; alert('pwned')</script></body></html>"
PAGE_LIKE = {  # files a browser would run as a page or script, as a visitor could store or name them
    "report.htm": SCRIPT, "page.xhtml": b'<html xmlns="http://www.w3.org/1999/xhtml">' + SCRIPT + b"</html>",
    "logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "app.js": b"alert(1)", "feed.xml": b"<?xml version='1.0'?><x/>", "notes.txt": b"text", "blob.bin": bytes(9),
}


def html_wav() -> bytes:
    """A WAV header, then a script as its samples: it decodes as audio, so the upload's content check takes it."""
    samples = SCRIPT + bytes(32000)
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(samples), b"WAVE", b"fmt ", 16, 1, 1, 16000, 32000,
                         2, 16, b"data", len(samples))
    return header + samples


def served(response: httpx.Response) -> tuple[int, str, str, str]:
    headers = response.headers
    return (response.status_code, headers.get("content-type", ""), headers.get("content-disposition", "").split(";")[0],
            headers.get("x-content-type-options", ""))


def test_stored_files_are_served_as_media_or_downloads_never_as_pages(site: Site):
    """Gradio's file route served the allowed folders inline by their guessed type: a guest's `report.html` (a WAV
    header, then a script) reached the admin as text/html. Every answer is now audio inline or an attachment of
    type application/octet-stream, never sniffed; the REST downloads too."""
    uploaded = upload(site, "report.html", html_wav())
    assert uploaded.status_code == 201, uploaded.text  # the content check sees audio: the page has to be defused
    stored = [Path(uploaded.json()["path"])]
    for name, content in PAGE_LIKE.items():
        (site.home / "uploads" / name).write_bytes(content)
        stored.append(site.home / "uploads" / name)
    answers, part = {}, {"Range": "bytes=0-9"}
    with httpx.Client(base_url=site.url, timeout=60) as client:
        for path in stored:
            for route in ("file=", "file/"):
                answers[f"{route}{path.name}"] = served(client.get(f"gradio_api/{route}{path}"))
            answers[f"range {path.name}"] = served(client.get(f"gradio_api/file={path}", headers=part))
        song = served(client.get(f"gradio_api/file={site.home / 'uploads' / 'song.wav'}"))
    download = ("application/octet-stream", "attachment", "nosniff")
    assert answers == {label: (206 if label.startswith("range") else 200, *download) for label in answers}
    assert song[0] == 200 and song[1].startswith("audio/") and song[2:] == ("inline", "nosniff")  # the players' way
    output = httpx.get(f"{site.api}/inference/tasks/{site.inference_task}/outputs/inside.wav",
                       headers={"Authorization": f"Bearer {TOKEN}"})
    assert served(output)[0] == 200 and served(output)[1].startswith("audio/")
    assert served(output)[2:] == ("attachment", "nosniff")
    print(f"\nstored content: {len(answers)} file-route answers for {len(stored)} page-like files, all downloads "
          "(octet-stream, attachment, nosniff); audio inline with nosniff")


# --- tokens in URLs -------------------------------------------------------------------------------------------


def test_a_token_in_the_url_opens_only_the_event_stream_and_the_websockets(site: Site):
    query = {"token": TOKEN}
    task = site.inference_task
    with httpx.Client(base_url=site.api, timeout=60) as client:
        for path in ("/system/info", "/models", f"/tasks/{task}", f"/inference/tasks/{task}/outputs",
                     f"/inference/tasks/{task}/outputs/inside.wav", f"/trainings/{site.training}"):
            refused = client.get(path, params=query)
            assert refused.status_code == 401 and "?token= is accepted only by" in refused.json()["detail"], path
            assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200, path
        # past the token to the lookup: an unknown id is a 404 (with the wrong token, a 401)
        assert client.get("/tasks/nope/progress", params=query).status_code == 404
        assert client.get("/tasks/nope/progress", params={"token": "wrong"}).status_code == 401
    sockets = site.api.replace("http", "ws", 1)
    for path in ("/ws/tasks/nope/log", "/ws/trainings/nope/log"):
        with connect(f"{sockets}{path}?token={TOKEN}") as socket_:  # accepted, then "no such task/training"
            assert "not found" in socket_.recv(timeout=10)
        with pytest.raises(InvalidStatus) as refused_socket:
            connect(f"{sockets}{path}?token=wrong")
        assert refused_socket.value.response.status_code == 403


# --- datasets: links out are never read -------------------------------------------------------------------------


def test_a_dataset_link_out_of_the_roots_is_left_out_of_preprocessing(site: Site):
    """A dataset folder holding a real link to a WAV outside the roots: the server's preprocess step cuts the
    folder's own clip and leaves the link out unread, naming it in the report."""
    dataset = site.home / "uploads" / "linked"
    dataset.mkdir()
    (dataset / "own.wav").write_bytes(wav_bytes(1.5))
    os.symlink(site.outside / "present.wav", dataset / "stolen.wav")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=site.api, headers=headers, timeout=60) as client:
        body = {"name": "linked", "target_sr": "40k", "if_f0": True, "version": "v2", "dataset_path": "uploads/linked"}
        training = client.post("/trainings", json=body)
        assert training.status_code == 201, training.text
        started = client.post(f"/trainings/{training.json()['id']}/preprocess", json={"n_proc": 1})
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 120
        while (task := client.get(f"/tasks/{started.json()['id']}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert task["status"] == "completed", task["error"]
        report = client.get(f"/trainings/{training.json()['id']}/preprocess/report").json()
    assert [entry["file"] for entry in report["left_out"]] == ["stolen.wav"]
    assert "outside the folders this server may read" in report["left_out"][0]["reason"]
    assert report["processed_files"] == ["own.wav"] and report["clips"] == 1
