"""`python -m rvc download [NAME...]`: fetch the pretrained files (hubert_base, rmvpe, base models) into assets/.

Names are asset names (`hubert_base`, `rmvpe`, `pretrained_v2/f0G40k`), groups (`pretrained`, `pretrained_v2`) or
`all` (the default). Files already present with the right size are skipped, so the command is safe to re-run after
an interruption. Entries of `assets/manifest.json` (see `rvc.assets`) are accepted like built-in names.
"""

from __future__ import annotations

import argparse

from rvc import assets
from rvc.events import EventSink


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names", nargs="*", default=["all"], metavar="NAME",
        help="all (default), a group (pretrained, pretrained_v2) or names: hubert_base, rmvpe, pretrained_v2/f0G40k...",
    )
    parser.add_argument(
        "--endpoint",
        help=f"hub address, e.g. a mirror (default: ${assets.ENDPOINT_ENV}, $HF_ENDPOINT or {assets.DEFAULT_ENDPOINT})",
    )
    parser.add_argument("--force", action="store_true", help="download again even when a file is already present")
    parser.add_argument("--retries", type=int, default=3, help="how often to resume a cut transfer (default: 3)")


def run(args: argparse.Namespace) -> int:
    sink = EventSink()
    try:
        selected = assets.select_assets(args.names)
        endpoint = assets.resolve_endpoint(args.endpoint)
    except ValueError as error:
        sink.error(str(error))
        return 2
    outcome: dict[str, dict[str, str]] = {"downloaded": {}, "skipped": {}, "failed": {}}
    try:
        for asset in selected:
            kind, detail = _fetch_one(asset, endpoint, args, sink)
            outcome[kind][asset.name] = detail
    finally:
        sink.close()
    failed = outcome["failed"]
    if failed:
        sink.error(f"{len(failed)} of {len(selected)} downloads failed: {', '.join(failed)}")
    sink.result(outcome, status="failed" if failed else "completed")
    return 1 if failed else 0


def _fetch_one(asset: assets.Asset, endpoint: str, args: argparse.Namespace, sink: EventSink) -> tuple[str, str]:
    """('skipped' | 'downloaded', path) or ('failed', why); a failure is reported and the next file still runs."""
    if not args.force and assets.is_present(asset):
        sink.log(f"{asset.name}: already present at {asset.path()}")
        return "skipped", str(asset.path())
    try:
        path = assets.download_asset(asset, endpoint=endpoint, sink=sink, retries=args.retries, force=True)
    except OSError as error:
        sink.error(f"{asset.name}: {error}")
        return "failed", str(error)
    sink.log(f"{asset.name}: saved {path}")
    return "downloaded", str(path)
