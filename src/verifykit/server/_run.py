"""Run a sidecar until SIGTERM or SIGINT, then drain: NOT_SERVING, finish in-flight calls, exit 0."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from types import FrameType

from ._app import Components, create_server
from ._config import ServerConfig, mask_password

__all__ = ["configure_logging", "keep_private", "serve"]

_log = logging.getLogger("verifykit.server")
_JSON_LOGGERS = frozenset({"verifykit.access", "verifykit.audit"})
_PR_SET_DUMPABLE = 4


class _JSONFormatter(logging.Formatter):
    """One JSON object per line. Access and audit lines are JSON already and are embedded as such."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        head = f'{{"ts":{record.created:.6f},"level":"{record.levelname.lower()}","logger":"{record.name}"'
        if message.startswith("{") and record.name in _JSON_LOGGERS:
            # Splice rather than parse and re-encode: access lines are written on every call.
            return head + ("," + message[1:] if len(message) > 2 else "}")
        return head + ',"message":' + json.dumps(message) + "}"


def configure_logging(level: str) -> None:
    """JSON lines on stderr for every ``verifykit`` logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JSONFormatter())
    root = logging.getLogger("verifykit")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def keep_private() -> bool:
    """Make this process non-dumpable (Linux): no core file, and its ``/proc/PID/environ``,
    ``mem`` and ``fd`` readable by root only. The sidecar holds its keyring, token and audit key
    in its memory and often its environment; its face workers run as the same user and read
    hostile photos, and a worker a photo took over must not read them there. Returns False
    where the system has no such switch."""
    if sys.platform != "linux":
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0


def serve(config: ServerConfig, components: Components | None = None) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit status (0 after a clean drain)."""
    keep_private()  # before any worker starts or any secret is read
    sidecar, port = create_server(config, components)
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        sidecar.start()
        # Written whatever the log level: orchestrators and tests wait for this line.
        metrics = f", metrics on port {sidecar.metrics_port}" if sidecar.metrics_port is not None else ""
        announce = {
            "ts": round(time.time(), 6),
            "level": "info",
            "logger": _log.name,
            "message": f"listening on {config.host}:{port} ({'TLS' if config.tls_cert else 'plaintext'}), "
            f"store {mask_password(config.store)}{metrics}",
        }
        print(json.dumps(announce, separators=(",", ":")), file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
        started = time.monotonic()
        _log.info("%s received: draining for up to %.1f s", received[0], config.grace)
        sidecar.stop(config.grace)
        _log.info("stopped after %.2f s", time.monotonic() - started)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sidecar.stop(0)
