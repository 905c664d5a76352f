"""`python -m rvc import URL`: install a model from a Hugging Face file or repo, a direct link, or a zip holding a
`.pth` and its `.index` (see rvc.service.importer: size limit, safe unpacking, checked models, no overwrite).
"""

from __future__ import annotations

import argparse

from rvc.cli.common import run_step


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="https://huggingface.co/OWNER/REPO[/resolve/REV/FILE], or a link")
    parser.add_argument("--limit-mb", type=int, help="the most it may download (default: the upload limit setting)")


def run(args: argparse.Namespace) -> int:
    from rvc.service.importer import import_from_url

    limit = args.limit_mb * 2**20 if args.limit_mb else None
    return run_step("import", lambda sink: import_from_url(args.url, sink, limit))
