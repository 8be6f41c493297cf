"""`myostride` command line: one subcommand module per job, under myostride.commands.

Each command module provides `add_parser(subparsers)` (registering its own
options, with `set_defaults(run=...)`). Errors the user can fix are raised
as UserError and printed as one line with exit status 2.
"""

import argparse
import importlib
import sys

from . import __version__
from .errors import UserError

# Order is the order `myostride --help` lists them in.
COMMANDS = ("demo", "sim", "scan", "record", "check", "analyze", "batch", "report", "export", "flash", "node",
            "devboard")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="myostride",
        description="Wireless surface EMG for clinical walking trials: simulate, record, analyse and report.",
    )
    parser.add_argument("--version", action="version", version="myostride " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module("myostride.commands." + name)
        except ModuleNotFoundError as exc:
            if exc.name != "myostride.commands." + name:
                raise
            continue  # command not built yet
        module.add_parser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except UserError as exc:
        print("myostride %s: error: %s" % (args.command, exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("myostride %s: interrupted" % args.command, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
