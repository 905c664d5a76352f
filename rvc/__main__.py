"""Command line: `python -m rvc COMMAND ...`. Each command lives in `rvc/cli/<command>.py`.

Only the chosen command's module is imported, so a light command (download) does not pay for torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rvc.jobs.lifeline import watch_parent

# command -> (module under rvc.cli, one-line help). Each module has `add_arguments(parser)` and `run(args)`.
COMMANDS: dict[str, tuple[str, str]] = {
    "infer": ("infer", "convert audio files or folders into a model's voice"),
    "preprocess": ("preprocess", "cut a dataset (folder of clips or one recording) into training pieces"),
    "extract": ("extract", "extract pitch and content features of the pieces, write filelist.txt"),
    "train": ("train", "train a voice model on a prepared experiment (resumable, pausable)"),
    "index": ("index", "build the retrieval index of an experiment's features"),
    "export": ("export", "write the small inference model of a checkpoint into assets/weights"),
    "oneclick": ("oneclick", "train a voice from a dataset in one go (all steps, then a test conversion)"),
    "import": ("import_model", "install a model from a Hugging Face file or repo, a link, or a zip"),
    "merge": ("merge", "a model that is the weighted mean of two models"),
    "onnx": ("onnx", "export a model as ONNX, for runtimes without PyTorch"),
    "info": ("set_info", "set the info text stored in a model file"),
    "inspect": ("inspect_models", "print what model files are, one JSON line each (how the server reads them)"),
    "download": ("download", "download the pretrained files (hubert_base, rmvpe, pretrained base models)"),
}


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``selected`` (when given) gets its full arguments, the others just their summary."""
    parser = argparse.ArgumentParser(prog="python -m rvc", description="Retrieval-based Voice Conversion")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        if selected in (None, name):
            module = importlib.import_module(f"rvc.cli.{module_name}")
            module.add_arguments(sub)
            sub.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    watch_parent()  # started by the job runner: stop when the server dies
    selected = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(selected if selected in COMMANDS else None).parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
