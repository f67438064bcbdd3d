"""``verifykit`` command line: thin wrappers that parse, call the library and print.

Each command lives in its own module with ``register(subparsers)``; a command sets
``func(args) -> int`` (the exit status) on its parser.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence

from .._errors import VerifyKitError

__all__ = ["install_hint", "main", "plain_text"]

_COMMAND_MODULES = [
    "verifykit.cli._demo",
    "verifykit.cli._bench",
    "verifykit.cli._face",
    "verifykit.cli._serve",
    "verifykit.cli._password",
    "verifykit.cli._audit",
    "verifykit.cli._report",
    "verifykit.cli._vouchers",
]


# The extra that provides each optional module, so that a command needing a missing one says which
# extra to install in one line instead of ending in a traceback.
_EXTRA_OF = {
    "grpc": "grpc",
    "grpc_health": "grpc",
    "grpc_reflection": "grpc",
    "grpc_status": "grpc",
    "google": "grpc",  # protobuf and the google.rpc status protos
    "prometheus_client": "grpc",
    "redis": "redis",
    "cv2": "face",
    "dlib": "face",
    "face_recognition_models": "face",
    "bcrypt": "bcrypt",
    "fido2": "passkey",
    "matplotlib": "report",
}


def install_hint(missing: str | None) -> str | None:
    """One line naming what to install for the missing module ``missing``, or None when it is not optional."""
    extra = _EXTRA_OF.get((missing or "").partition(".")[0])
    if extra is None:
        return None
    return f"this needs the {extra} extra ({missing} is not installed): pip install 'verifykit[{extra}]'"


# reStructuredText in docstrings: ``literal`` and :role:`target` (``~`` shows the last name only).
_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)
_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    short, target = match.groups()
    return target.rpartition(".")[2] if short else target


def plain_text(doc: str | None) -> str:
    """A docstring as help text: its reStructuredText literals and roles as the plain words they show."""
    return _LITERAL.sub(r"\1", _ROLE.sub(_role, doc or ""))


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
    except ModuleNotFoundError as exc:
        hint = install_hint(exc.name)
        if hint is None:
            raise
        print(f"verifykit: {args.command}: {hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
