"""`python -m rvc infer INPUT... -m MODEL.pth -o OUT`: convert files or folders into a model's voice."""

from __future__ import annotations

import argparse
from pathlib import Path

from rvc import service
from rvc.events import EventSink
from rvc.infer import ConvertParams
from rvc.vocabulary import OUTPUT_FORMATS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="audio/video files or folders")
    parser.add_argument("-m", "--model", required=True, help="inference .pth (path or name in assets/weights)")
    parser.add_argument("-o", "--output", help="output file (one input file) or folder (default: RVC_HOME/outputs)")
    parser.add_argument("--index", default=service.AUTO_INDEX, help="'.index' file, 'auto' (default) or 'none'")
    ConvertParams.add_arguments(parser)
    parser.add_argument("--format", choices=OUTPUT_FORMATS, help="output format (default: the output's suffix)")
    parser.add_argument("--device", help="cpu, cuda:N, xpu:N or mps (default: the first accelerator, else the CPU)")


def run(args: argparse.Namespace) -> int:
    sink = EventSink()
    index = None if args.index.lower() == "none" else args.index
    try:
        params = ConvertParams.from_args(args)
        files = service.collect_inputs(args.inputs)
        single = len(files) == 1 and not Path(args.inputs[0]).is_dir() and len(args.inputs) == 1
        if single:
            result = service.convert(
                files[0], args.model, args.output, params, index, args.format, args.device,
                progress=sink.progress,
            )
            sink.artifact("audio", result["output_path"])
            sink.result(result)
            return 0
        result = service.convert_batch(
            files, args.model, args.output, params, index, args.format or "wav", args.device, progress=sink.progress
        )
    except (ValueError, FileNotFoundError) as error:
        sink.error(str(error))
        return 2
    finally:
        sink.close()
    for output in result["outputs"]:
        sink.artifact("audio", output["output_path"])
    for failure in result["errors"]:
        sink.error(f"{failure['input_path']}: {failure['error']}")
    sink.result(result, status="completed" if not result["errors"] else "failed")
    return 0 if not result["errors"] else 1
