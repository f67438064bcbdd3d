"""``verifykit serve``: run the gRPC sidecar until SIGTERM, then drain and exit 0.

Every option is a flag, a ``VERIFYKIT_*`` variable and a key of the ``--config`` TOML file;
flags win over variables, variables over the file. Secrets (``token``, ``keys``, a mailer or
store URL with a password) are refused as flags, since process lists show command lines: give
them by variable, by the file, or by ``--token-file``, ``--keys-file``, ``--mailer-file``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError
from . import plain_text

__all__ = ["register"]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "serve",
        help="run the gRPC sidecar (defaults: 127.0.0.1:50051, memory store, console mailer)",
        description=plain_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML file of settings [VERIFYKIT_CONFIG]"
    )
    try:
        from ..server import OPTIONS
    except ImportError:
        # The grpc extra is missing; running the command says so.
        parser.set_defaults(func=_missing_extra)
        return
    for option in OPTIONS:
        text = f"{option.help} [{option.env}]"
        if option.secret:
            # Never offered: process lists show command lines. Still parsed, so that giving it
            # is refused by name (load_config) instead of an "unrecognized arguments" usage error.
            text = argparse.SUPPRESS
        elif option.password_url:
            text += " (refused as a flag when it carries a password: use the variable or a file)"
        if option.kind is bool:
            parser.add_argument(
                option.flag, dest=option.name, action=argparse.BooleanOptionalAction, help=text
            )
        else:
            parser.add_argument(option.flag, dest=option.name, metavar=option.name.upper(), help=text)
    parser.set_defaults(func=_run)


def _missing_extra(args: argparse.Namespace) -> int:
    raise ConfigurationError("the sidecar needs the grpc extra: pip install 'verifykit[grpc]'")


def _run(args: argparse.Namespace) -> int:
    from ..server import OPTIONS, configure_logging, load_config, serve

    config = load_config({o.name: getattr(args, o.name) for o in OPTIONS}, config_file=args.config)
    configure_logging(config.log_level)
    return serve(config)
