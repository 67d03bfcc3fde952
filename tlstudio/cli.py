"""Headless commands on the same engine the window uses.

Each subcommand lives in `tlstudio/commands/<name>.py` with `add_parser(subparsers)`
and `run(args) -> int`. Modules are imported only when listed here, and heavy
imports (torch, fastai) happen inside `run`, so `--version` and `--help` are instant.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from tlstudio import __version__
from tlstudio.core.errors import UserFacingError
from tlstudio.core.printable import printable

COMMANDS = ("scan", "models", "train", "resume", "runs", "lr_find", "evaluate", "predict", "export", "doctor")


def _command_modules():
    for name in COMMANDS:
        try:
            yield importlib.import_module(f"tlstudio.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"tlstudio.commands.{name}":
                raise


def _command_names() -> set[str]:
    return {name.replace("_", "-") for name in COMMANDS}


def is_cli_invocation(argv: list[str]) -> bool:
    return bool(argv) and (argv[0] in _command_names() or argv[0] in {"-h", "--help", "--version", "-V", "--selftest"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlstudio",
        description="TL Studio: transfer learning on images. With no command, opens the window.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"tlstudio {__version__}")
    parser.add_argument("--selftest", action="store_true",
                        help="check this installation: train one tiny epoch on the demo set in the engine process, "
                        "export a .tlsmodel and an ONNX file, reload and verify both; one line, exit status 0 when it works")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        module.add_parser(sub)
    return parser


class UserError(UserFacingError):
    """A problem with the command line the user can fix; printed as one line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.selftest:
        return _selftest()
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except (UserFacingError, FileNotFoundError) as exc:
        print(f"tlstudio {args.command}: error: {printable(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tlstudio {args.command}: interrupted", file=sys.stderr)
        return 130


def _selftest() -> int:
    from tlstudio.commands.console import quiet_library_warnings
    from tlstudio.core.selftest import run_selftest

    quiet_library_warnings()
    result = run_selftest()
    print(result.line, file=sys.stdout if result.passed else sys.stderr, flush=True)
    return 0 if result.passed else 1
