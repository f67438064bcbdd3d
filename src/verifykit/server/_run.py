"""Run a sidecar until SIGTERM or SIGINT, then drain: NOT_SERVING, finish in-flight calls, exit 0."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

from ._app import Components, Sidecar, create_server
from ._config import ServerConfig, mask_password

__all__ = ["configure_logging", "keep_private", "run_until_signal", "serve"]

_log = logging.getLogger("verifykit.server")
_JSON_LOGGERS = frozenset({"verifykit.access", "verifykit.audit"})
_PR_SET_DUMPABLE = 4
_STOP = (signal.SIGTERM, signal.SIGINT)


class _JSONFormatter(logging.Formatter):
    """One JSON object per line, with the process id (``verifykit serve --processes N`` runs
    several). Access and audit lines are JSON already and are embedded as such."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        head = (
            f'{{"ts":{record.created:.6f},"level":"{record.levelname.lower()}","logger":"{record.name}",'
            f'"pid":{record.process}'
        )
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


def announce(message: str) -> None:
    """Write ``message`` as an info line of ``verifykit.server`` whatever the log level:
    orchestrators and tests wait for the "listening on" line."""
    line = {"ts": round(time.time(), 6), "level": "info", "logger": _log.name, "pid": os.getpid()}
    line["message"] = message
    print(json.dumps(line, separators=(",", ":")), file=sys.stderr, flush=True)


def serve(config: ServerConfig, components: Components | None = None) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit status (0 after a clean drain).

    Without ``components``, ``config.process_count`` server processes serve (see
    :func:`._processes.serve_processes`); with them, this process alone.
    """
    if components is None and config.process_count > 1:
        from ._processes import serve_processes

        return serve_processes(config)
    keep_private()  # before any worker starts or any secret is read
    sidecar, port = create_server(config, components)

    def started() -> None:
        metrics = f", metrics on port {sidecar.metrics_port}" if sidecar.metrics_port is not None else ""
        announce(
            f"listening on {config.host}:{port} ({'TLS' if config.tls_cert else 'plaintext'}), "
            f"store {mask_password(config.store)}{metrics}"
        )

    return run_until_signal(sidecar, started)


def run_until_signal(sidecar: Sidecar, started: Callable[[], None], *, signals: Sequence[int] = _STOP) -> int:
    """Start ``sidecar``, call ``started``, serve until one of ``signals``, then drain it."""
    config = sidecar.config
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        sidecar.start()
        started()
        while not stop.wait(0.5):
            pass
        began = time.monotonic()
        _log.info("%s received: draining for up to %.1f s", received[0], config.grace)
        sidecar.stop(config.grace)
        _log.info("stopped after %.2f s", time.monotonic() - began)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sidecar.stop(0)
