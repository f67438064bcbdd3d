"""``verifykit serve`` as a child process on a free port, as a service would run it beside itself.

Used by ``verifykit demo`` and ``verifykit bench grpc``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["SidecarProcess"]

_LISTENING = re.compile(r"listening on [\d.]+:(\d+)")


class SidecarProcess:
    """Start ``verifykit serve --listen 127.0.0.1:0 ARGS``; its stderr (JSON logs) goes to ``log``.

    ``VERIFYKIT_*`` variables of this process are not passed on, so only ``args`` and ``env``
    configure it.
    """

    def __init__(
        self, args: Sequence[str], log: Path, *, env: Mapping[str, str] | None = None, timeout: float = 30.0
    ) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("VERIFYKIT_")}
        environ.update(env or {})
        self.log = log
        with log.open("w") as sink:
            self.proc = subprocess.Popen(  # noqa: S603 - this interpreter, arguments from the caller's code
                [sys.executable, "-m", "verifykit", "serve", "--listen", "127.0.0.1:0", *args],
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )
        self.port = self._wait_for_port(timeout)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _wait_for_port(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = _LISTENING.search(self.log.read_text(errors="replace"))
            if found:
                return int(found.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("the sidecar did not start:\n" + self.log.read_text(errors="replace")[-2000:])

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as an orchestrator would; returns the exit status after the drain."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
