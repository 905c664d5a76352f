"""One module per `python -m rvc` command: `add_arguments(parser)` and `run(args) -> exit code`."""
