"""rvc.assets: the table, the status checks, and downloads from a fake hub (never huggingface.co)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from rvc import assets
from rvc.config import Paths
from rvc.events import EventSink
from tests.unit.assets.fake_hub import FakeHub

CONTENT = bytes(range(256)) * 24  # 6 KiB, several reads on the client side
REPO = "test-org/tiny-models"


def tiny_asset(content: bytes = CONTENT, **changes) -> assets.Asset:
    fields = dict(
        name="tiny/model", repo_id=REPO, filename_in_repo="sub/model.pth", local_path="tiny/model.pth",
        size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest(),
    )
    return assets.Asset(**{**fields, **changes})


@pytest.fixture(autouse=True)
def no_retry_wait(monkeypatch):
    monkeypatch.setattr(assets, "RETRY_WAIT_S", 0.0)


@pytest.fixture
def hub():
    with FakeHub() as server:
        server.add(REPO, "sub/model.pth", CONTENT)
        yield server


def recording_sink() -> tuple[EventSink, io.StringIO]:
    stream = io.StringIO()
    return EventSink(stream=stream, json_lines=True), stream


def events(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_table_lists_the_ecosystem_files_with_published_checks():
    by_name = {asset.name: asset for asset in assets.ASSETS}
    assert len(by_name) == len(assets.ASSETS) == 26
    assert by_name["hubert_base"].local_path == "hubert/hubert_base.pt"
    assert by_name["hubert_base"].size_bytes == 189_507_909
    assert by_name["rmvpe"].filename_in_repo == "rmvpe.pt"
    assert by_name["rmvpe"].size_bytes == 181_184_272
    v2 = by_name["pretrained_v2/f0G40k"]
    assert (v2.repo_id, v2.filename_in_repo, v2.local_path) == (assets.RVC_REPO, *("pretrained_v2/f0G40k.pth",) * 2)
    assert all(asset.sha256 for asset in assets.ASSETS)


def test_names_groups_and_all_select_in_table_order(tmp_path):
    paths = Paths(tmp_path)
    assert [asset.name for asset in assets.select_assets(["rmvpe", "hubert_base"], paths)] == ["hubert_base", "rmvpe"]
    assert len(assets.select_assets(["pretrained_v2"], paths)) == 12
    assert len(assets.select_assets(["pretrained", "pretrained/G40k"], paths)) == 12
    assert len(assets.select_assets(["all"], paths)) == 26
    with pytest.raises(ValueError, match="unknown asset 'hubert'.*pretrained_v2"):
        assets.select_assets(["hubert"], paths)


def test_download_places_the_verified_file_and_reports_progress(tmp_path, hub):
    sink, stream = recording_sink()
    path = assets.download_asset(tiny_asset(), endpoint=hub.endpoint, home=tmp_path, sink=sink)
    assert path == tmp_path / "assets" / "tiny" / "model.pth"
    assert path.read_bytes() == CONTENT
    assert leftovers(path.parent) == ["model.pth"]
    progress = [event for event in events(stream) if event["type"] == "progress"]
    assert progress[0]["done"] == 0
    assert progress[-1] == {
        "type": "progress", "stage": "download", "done": 6144, "total": 6144, "message": "tiny/model",
    }
    assert [request.path for request in hub.gets()] == [f"/{REPO}/resolve/main/sub/model.pth"]


def test_a_cut_transfer_resumes_from_where_it_stopped(tmp_path, hub):
    hub.cuts_left = 1
    sink, stream = recording_sink()
    path = assets.download_asset(tiny_asset(), endpoint=hub.endpoint, home=tmp_path, sink=sink)
    assert path.read_bytes() == CONTENT
    assert [request.range for request in hub.gets()] == [None, f"bytes={len(CONTENT) // 2}-"]
    warnings = [event for event in events(stream) if event["type"] == "log" and event["level"] == "warning"]
    assert len(warnings) == 1 and "retry 1 of 3" in warnings[0]["message"]


def test_a_resumed_transfer_follows_the_hub_redirect_to_its_cdn(tmp_path, hub):
    hub.redirect_to_cdn, hub.cuts_left = True, 1
    path = assets.download_asset(tiny_asset(), endpoint=hub.endpoint, home=tmp_path)
    assert path.read_bytes() == CONTENT
    resolve, cdn = f"/{REPO}/resolve/main/sub/model.pth", f"/cdn/{hashlib.sha256(CONTENT).hexdigest()}"
    resumed = f"bytes={len(CONTENT) // 2}-"
    requests = [(request.path, request.range) for request in hub.gets()]
    assert requests == [(resolve, None), (cdn, None), (resolve, resumed), (cdn, resumed)]


@pytest.mark.parametrize("trouble", ["cut, ranges ignored", "503"])
def test_other_transient_failures_restart_the_transfer(tmp_path, hub, trouble):
    if trouble == "503":
        hub.errors_left = 1
    else:
        hub.cuts_left, hub.honor_ranges = 1, False
    path = assets.download_asset(tiny_asset(), endpoint=hub.endpoint, home=tmp_path)
    assert path.read_bytes() == CONTENT
    assert len(hub.gets()) == 2


def test_retries_are_bounded_and_leave_nothing_behind(tmp_path, hub):
    hub.cuts_left = 10
    with pytest.raises(assets.DownloadError, match="tiny/model.*gave up after 2 retries"):
        assets.download_asset(tiny_asset(), endpoint=hub.endpoint, home=tmp_path, retries=2)
    assert len(hub.gets()) == 3
    assert leftovers(tmp_path / "assets" / "tiny") == []


@pytest.mark.parametrize(
    ("served", "expected"),
    [
        (bytes(255 - byte for byte in CONTENT), "has sha256 [0-9a-f]{64}, expected " + tiny_asset().sha256),
        (CONTENT + b"extra", f"has {len(CONTENT) + 5} bytes, expected {len(CONTENT)}"),
    ],
    ids=["wrong bytes", "wrong size"],
)
def test_a_corrupt_download_is_an_error_and_the_old_file_stays(tmp_path, hub, served, expected):
    hub.add(REPO, "sub/model.pth", served)
    target = tmp_path / "assets" / "tiny" / "model.pth"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"the previous copy")
    with pytest.raises(assets.CorruptDownloadError, match=f"tiny/model .*{expected}") as error:
        assets.download_asset(tiny_asset(), endpoint=hub.endpoint, home=tmp_path, force=True)
    assert str(target) in str(error.value)
    assert target.read_bytes() == b"the previous copy"
    assert leftovers(target.parent) == ["model.pth"]


def test_an_unknown_size_is_taken_from_the_server_and_checked(tmp_path, hub):
    path = assets.download_asset(tiny_asset(size_bytes=None), endpoint=hub.endpoint, home=tmp_path)
    assert path.read_bytes() == CONTENT


def test_a_file_the_hub_does_not_have_fails_at_once(tmp_path, hub):
    with pytest.raises(assets.DownloadError, match="(?s)could not download tiny/model from .*Entry Not Found"):
        assets.download_asset(tiny_asset(filename_in_repo="missing.pth"), endpoint=hub.endpoint, home=tmp_path)
    assert len(hub.gets()) == 1
    assert leftovers(tmp_path / "assets" / "tiny") == []


def test_offline_mode_is_respected_without_retrying(tmp_path, hub, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(assets.DownloadError, match="offline mode is enabled"):
        assets.download_asset(tiny_asset(), endpoint=hub.endpoint, home=tmp_path)
    assert hub.requests == []


def test_a_good_file_is_kept_and_force_fetches_it_again(tmp_path, hub):
    target = tmp_path / "assets" / "tiny" / "model.pth"
    target.parent.mkdir(parents=True)
    target.write_bytes(CONTENT)
    assert assets.download_asset(tiny_asset(), endpoint=hub.endpoint, home=tmp_path) == target
    assert hub.requests == []
    assets.download_asset(tiny_asset(), endpoint=hub.endpoint, home=tmp_path, force=True)
    assert len(hub.gets()) == 1


def test_status_tells_present_missing_and_wrong_size(tmp_path, monkeypatch):
    short, absent = tiny_asset(name="short", local_path="short.pth"), tiny_asset(name="absent", local_path="a.pth")
    monkeypatch.setattr(assets, "ASSETS", (tiny_asset(), short, absent))
    (tmp_path / "assets" / "tiny").mkdir(parents=True)
    (tmp_path / "assets" / "tiny" / "model.pth").write_bytes(CONTENT)
    (tmp_path / "assets" / "short.pth").write_bytes(CONTENT[:10])
    status = assets.asset_status(Paths(tmp_path))
    assert [(entry.asset.name, entry.present, entry.size_bytes, entry.size_ok) for entry in status] == [
        ("tiny/model", True, 6144, True), ("short", True, 10, False), ("absent", False, None, None),
    ]
    assert status[0].path == tmp_path / "assets" / "tiny" / "model.pth"


def test_require_asset_names_the_file_and_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("RVC_HOME", str(tmp_path))
    with pytest.raises(assets.MissingAssetError) as error:
        assets.require_asset("hubert_base")
    assert isinstance(error.value, FileNotFoundError)
    message = str(error.value)
    assert str(tmp_path / "assets" / "hubert" / "hubert_base.pt") in message
    assert "python -m rvc download hubert_base" in message


def test_require_asset_rejects_an_empty_file_and_leaves_size_checks_to_the_loaders(tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "ASSETS", (tiny_asset(),))
    target = tmp_path / "assets" / "tiny" / "model.pth"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"")
    with pytest.raises(assets.MissingAssetError, match="python -m rvc download tiny/model"):
        assets.require_asset("tiny/model", Paths(tmp_path))
    target.write_bytes(CONTENT[:100])  # a variant of another size: returned, and flagged by asset_status
    assert assets.require_asset("tiny/model", Paths(tmp_path)) == target
    assert assets.asset_status(Paths(tmp_path))[0].size_ok is False
    assert "100 bytes, expected 6144" in assets.missing_asset_message(tiny_asset(), Paths(tmp_path))


def test_endpoint_comes_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv("RVC_HF_ENDPOINT", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert assets.resolve_endpoint() == "https://huggingface.co"
    monkeypatch.setenv("HF_ENDPOINT", "https://hf-mirror.com/")
    assert assets.resolve_endpoint() == "https://hf-mirror.com"
    monkeypatch.setenv("RVC_HF_ENDPOINT", "http://10.0.0.2:8080")
    assert assets.resolve_endpoint() == "http://10.0.0.2:8080"
    assert assets.resolve_endpoint("http://127.0.0.1:9") == "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="http"):
        assets.resolve_endpoint("huggingface.co")


def test_manifest_adds_files_and_overrides_built_in_ones(tmp_path):
    manifest = tmp_path / "assets" / assets.MANIFEST_NAME
    manifest.parent.mkdir(parents=True)
    mirror = {"name": "hubert_base", "repo_id": "me/mirror", "filename_in_repo": "h.pt", "local_path": "hubert/h.pt"}
    extra = {**mirror, "name": "extra/tool", "local_path": "extra/tool.bin", "size_bytes": 3, "revision": "v1"}
    manifest.write_text(json.dumps({"assets": [mirror, extra]}))
    table = {asset.name: asset for asset in assets.list_assets(Paths(tmp_path))}
    assert len(table) == 27
    assert table["hubert_base"] == assets.Asset(**mirror)
    assert table["extra/tool"].revision == "v1"


ENTRY = {"name": "x", "repo_id": "a/b", "filename_in_repo": "f", "local_path": "x"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "Expecting value"),
        ([ENTRY], "expected an object"),
        ({"assets": [{"name": "x", "repo_id": "a/b"}]}, "each entry needs"),
        ({"assets": [{**ENTRY, "local_path": "../../x"}]}, "inside assets/"),
        ({"assets": [{**ENTRY, "sha256": "ab"}]}, "64 lowercase hex"),
        ({"assets": [{**ENTRY, "size_bytes": "12"}]}, "non-negative integer"),
    ],
)
def test_a_bad_manifest_is_reported_with_its_path(tmp_path, content, message):
    manifest = tmp_path / "assets" / assets.MANIFEST_NAME
    manifest.parent.mkdir(parents=True)
    manifest.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(assets.ManifestError, match=message) as error:
        assets.list_assets(Paths(tmp_path))
    assert str(manifest) in str(error.value)
