"""``python -m portal`` (with ``examples`` on the path; ``make portal`` does this): the portal on
uvicorn, development defaults unless the environment says otherwise (see ``config.Config``)."""

from __future__ import annotations

import argparse
import dataclasses

import uvicorn

from .app import create_app
from .config import Config


def main() -> None:
    parser = argparse.ArgumentParser(prog="portal", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    config = Config.from_env()
    if config.development:
        if config.origin is None:
            # Passkeys are bound to an origin; WebAuthn allows plain http only on localhost.
            config = dataclasses.replace(config, origin=f"http://localhost:{args.port}")
        print(
            f"portal: development mode; open {config.origin} (passkeys need that address); "
            f"messages are written to {config.mailbox}/ and shown at /dev/mailbox"
        )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
