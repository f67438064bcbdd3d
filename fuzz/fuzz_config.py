"""The sidecar's configuration: a TOML file, or a ``VERIFYKIT_*`` variable."""

from __future__ import annotations

import atexit
import os
import tempfile
from pathlib import Path

from verifykit.server._config import OPTIONS, ServerConfig, load_config

from ._support import Input, typed

MAX_LEN = 8192
_FD, _NAME = tempfile.mkstemp(prefix="verifykit-fuzz-", suffix=".toml")
os.close(_FD)
_PATH = Path(_NAME)
atexit.register(_PATH.unlink, missing_ok=True)


def _use(config: ServerConfig) -> None:
    repr(config)  # masks secrets: runs mask_password on the URLs
    config.risks(config.mailer if config.mailer_file is None else None)
    assert config.heavy_slots >= 1
    if config.mailer_file is None:
        typed(config.mailer_url)


def TestOneInput(data: bytes) -> None:
    given = Input(data)
    if given.flag():
        _PATH.write_bytes(given.rest())
        config = typed(lambda: load_config(environ={}, config_file=_PATH))
    else:
        option = OPTIONS[given.pick(len(OPTIONS))]
        environ = {option.env: given.text(400)}
        config = typed(lambda: load_config(environ=environ))
    if config is not None:
        _use(config)
