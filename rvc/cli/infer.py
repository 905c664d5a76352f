"""`python -m rvc infer INPUT... -m MODEL.pth -o OUT`: convert files or folders into a model's voice."""

from __future__ import annotations

import argparse
from pathlib import Path

from rvc import service
from rvc.events import EventSink
from rvc.infer import F0_METHODS, ConvertParams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = ConvertParams()
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="audio/video files or folders")
    parser.add_argument("-m", "--model", required=True, help="inference .pth (path or name in assets/weights)")
    parser.add_argument("-o", "--output", help="output file (one input file) or folder (default: RVC_HOME/outputs)")
    parser.add_argument("--index", default=service.AUTO_INDEX, help="'.index' file, 'auto' (default) or 'none'")
    parser.add_argument("--transpose", type=int, default=defaults.transpose, help="semitones (+12 = one octave up)")
    parser.add_argument("--f0-method", choices=F0_METHODS, default=defaults.f0_method)
    parser.add_argument("--index-rate", type=float, default=defaults.index_rate)
    parser.add_argument("--filter-radius", type=int, default=defaults.filter_radius)
    parser.add_argument("--resample-sr", type=int, default=defaults.resample_sr, help="output rate in Hz, 0 = model's")
    parser.add_argument("--rms-mix-rate", type=float, default=defaults.rms_mix_rate)
    parser.add_argument("--protect", type=float, default=defaults.protect)
    parser.add_argument("--sid", type=int, default=defaults.sid, help="speaker id")
    parser.add_argument("--noise-scale", type=float, default=defaults.noise_scale, help="0 = reproducible output")
    parser.add_argument("--f0-file", help="pitch curve file (time_seconds, hz per line) that overrides the f0")
    parser.add_argument("--format", choices=("wav", "flac", "mp3", "m4a"), help="output format (default: suffix)")
    parser.add_argument("--device", help="cpu, cuda:N, xpu:N or mps (default: the first accelerator, else the CPU)")


def run(args: argparse.Namespace) -> int:
    sink = EventSink()
    params = ConvertParams(
        transpose=args.transpose, f0_method=args.f0_method, index_rate=args.index_rate,
        filter_radius=args.filter_radius, resample_sr=args.resample_sr, rms_mix_rate=args.rms_mix_rate,
        protect=args.protect, sid=args.sid, noise_scale=args.noise_scale, f0_file=args.f0_file,
    )
    index = None if args.index.lower() == "none" else args.index
    try:
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
