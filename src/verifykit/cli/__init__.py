"""``verifykit`` command line: thin wrappers that parse, call the library and print.

Each command lives in its own module with ``register(subparsers)``; a command sets
``func(args) -> int`` (the exit status) on its parser.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .._errors import VerifyKitError

__all__ = ["main"]

_COMMAND_MODULES = [
    "verifykit.cli._demo",
    "verifykit.cli._bench",
    "verifykit.cli._face",
    "verifykit.cli._serve",
    "verifykit.cli._password",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verifykit", description="Verify people: email codes, passwords, faces."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except VerifyKitError as exc:
        print(f"verifykit: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
