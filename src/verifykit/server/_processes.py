"""``verifykit serve`` on every core: several server processes on one port, supervised.

The shape of gRPC's multiprocessing example: the parent serves no gRPC itself. It checks that the
port is free and holds it with a bound socket that never listens (``SO_REUSEPORT``, so port 0
picks one port for all), then starts ``processes`` children (``python -m
verifykit.server._processes``). Each child is a whole sidecar, with its event loop, store
connections and face workers, listening on that port with ``grpc.so_reuseport``; the kernel spreads
connections over them. A child gets the configuration the parent validated over a pipe, never on a
command line, and its share of the cores for heavy work unless ``heavy_workers`` is set.

The parent restarts a child that ends (after a back-off while they keep ending), drains them all on
SIGTERM or SIGINT (each finishes its calls in flight, as one sidecar does) and exits 0; it exits
non-zero when a child cannot start at all. With ``metrics_port``, the children write their metrics
to a private directory (prometheus-client's multiprocess mode) that the parent serves, summed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from types import FrameType

from .._errors import ConfigurationError, VerifyKitError
from ._config import ServerConfig, _cpus, mask_password
from ._metrics import GatheredMetrics

__all__ = ["child_config", "serve_processes"]

_log = logging.getLogger("verifykit.server")
_READY = b"ready\n"
_RESTART = (0.5, 30.0)  # first and longest wait before starting a child again
_STABLE = 30.0  # seconds a child must have served for its next restart to wait the least again
_EXTRA_DRAIN = 30.0  # beyond grace: closing the store, saving the face index, ending face workers
_PR_SET_PDEATHSIG = 1


def child_config(config: ServerConfig, port: int) -> ServerConfig:
    """What each of ``config.process_count`` children runs: one process on ``port``, with its share
    of the cores for heavy work (at least one) unless ``heavy_workers`` says otherwise."""
    count = config.process_count
    heavy = config.heavy_workers if config.heavy_workers is not None else max(1, _cpus() // count)
    host = config.listen.rpartition(":")[0]
    return dataclasses.replace(config, listen=f"{host}:{port}", processes=1, heavy_workers=heavy)


@contextlib.contextmanager
def _hold_port(config: ServerConfig) -> Iterator[int]:
    """Check that the port is free, then hold it (bound, never listening) for the children."""
    port = int(config.listen.rpartition(":")[2])
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            config.host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ConfigurationError(f"cannot listen on {config.listen}: {exc.strerror}") from None
    try:
        # Without SO_REUSEPORT: a port any other socket listens on is refused, as one sidecar's is.
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
            port = int(probe.getsockname()[1])
        hold = socket.socket(family, kind, proto)
        try:
            hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            hold.bind((address[0], port, *address[2:]))
        except BaseException:
            hold.close()
            raise
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {config.listen}: {exc.strerror}") from exc
    with hold:
        yield port


class _Child:
    """One slot's server process: started, watched for its ready line, restarted when it ends."""

    def __init__(self, slot: int, payload: bytes, env: dict[str, str]) -> None:
        self.slot = slot
        self._payload = payload
        self._env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready = threading.Event()
        self.ready_at: float | None = None
        self.delay = _RESTART[0]
        self.restart_at: float | None = None

    def start(self) -> None:
        self.ready = threading.Event()
        self.ready_at = None
        self.restart_at = None
        # The ready line comes on a pipe of its own: stdout stays the console mailer's.
        read, write = os.pipe()
        try:
            self.proc = subprocess.Popen(  # noqa: S603 - this interpreter and our own module
                [sys.executable, "-m", "verifykit.server._processes", str(write)],
                stdin=subprocess.PIPE,
                env=self._env,
                pass_fds=(write,),
            )
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):  # it ended already: the supervisor sees that
            self.proc.stdin.write(self._payload)
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        name = f"verifykit-child-{self.slot}"
        threading.Thread(target=self._watch, args=(read, self.ready), name=name, daemon=True).start()

    @staticmethod
    def _watch(fd: int, ready: threading.Event) -> None:
        with open(fd, "rb") as pipe:
            if pipe.readline() == _READY:
                ready.set()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class _Supervisor:
    def __init__(self, config: ServerConfig, port: int, metrics: GatheredMetrics | None) -> None:
        self.config = config
        self.port = port
        self.metrics = metrics
        env = dict(os.environ)
        if metrics is not None:
            env |= metrics.environ()
        payload = pickle.dumps((child_config(config, port), os.getpid()))
        self.children = [_Child(slot, payload, env) for slot in range(config.process_count)]
        self.stop = threading.Event()
        self.received: list[str] = []

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signal.Signals(signum).name)
        self.stop.set()

    def run(self) -> int:
        for child in self.children:
            child.start()
        if not self._all_ready():
            return self._drain(failed=not self.stop.is_set())
        self._announce()
        while not self.stop.wait(0.1):
            self._supervise()
        _log.info(
            "%s received: draining %d server processes for up to %.1f s",
            self.received[0],
            sum(child.running for child in self.children),
            self.config.grace,
        )
        return self._drain(failed=False)

    def _all_ready(self) -> bool:
        """Wait until every child serves; False when one ended first (or a signal came)."""
        while not self.stop.is_set():
            for child in self.children:
                assert child.proc is not None
                if not child.ready.is_set() and child.proc.poll() is not None:
                    _log.error(
                        "server process %d (pid %d) could not start: %s",
                        child.slot,
                        child.proc.pid,
                        _how(child.proc.returncode),
                    )
                    return False
            if all(child.ready.wait(0) for child in self.children):
                now = time.monotonic()
                for child in self.children:
                    child.ready_at = now
                return True
            time.sleep(0.05)
        return False

    def _announce(self) -> None:
        from ._run import announce

        config = self.config
        pids = ", ".join(str(child.proc.pid) for child in self.children if child.proc is not None)
        metrics = f", metrics on port {self.metrics.port}" if self.metrics is not None else ""
        announce(
            f"listening on {config.host}:{self.port} ({'TLS' if config.tls_cert else 'plaintext'}), "
            f"store {mask_password(config.store)}, {len(self.children)} server processes "
            f"(pids {pids}){metrics}"
        )

    def _supervise(self) -> None:
        """Notice children that ended, and start them again once their back-off has passed."""
        now = time.monotonic()
        for child in self.children:
            proc = child.proc
            if child.restart_at is None and proc is not None and proc.poll() is not None:
                if self.metrics is not None:
                    self.metrics.process_ended(proc.pid)
                served = now - child.ready_at if child.ready_at is not None else 0.0
                if served >= _STABLE:
                    child.delay = _RESTART[0]
                child.restart_at = now + child.delay
                _log.warning(
                    "server process %d (pid %d) ended (%s); starting it again in %.1f s",
                    child.slot,
                    proc.pid,
                    _how(proc.returncode),
                    child.delay,
                )
                child.delay = min(child.delay * 2, _RESTART[1])
            elif child.restart_at is not None and now >= child.restart_at:
                child.start()
                pid = child.proc.pid if child.proc is not None else 0
                _log.info("server process %d started again (pid %d)", child.slot, pid)
            elif child.ready_at is None and child.ready.is_set():
                child.ready_at = now

    def _drain(self, *, failed: bool) -> int:
        """SIGTERM every child, wait for each to finish its calls, and return the exit status:
        0 when every child that served drained cleanly and none failed to start."""
        running = [(child, child.proc) for child in self.children if child.proc is not None and child.running]
        for _, proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.config.grace + _EXTRA_DRAIN
        clean = True
        for child, proc in running:
            try:
                code = proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _log.error("server process %d (pid %d) did not drain in time: killed", child.slot, proc.pid)
                proc.kill()
                code = proc.wait()
            if self.metrics is not None:
                self.metrics.process_ended(proc.pid)
            # A child still starting when the signal came may end by it: it had no calls.
            if code != 0 and (child.ready.is_set() or code != -signal.SIGTERM):
                clean = False
        if not failed and clean:
            _log.info("every server process drained")
        return 1 if failed or not clean else 0


def _how(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"


def serve_processes(config: ServerConfig) -> int:
    """Serve with ``config.process_count`` server processes until SIGTERM/SIGINT, then drain
    them; returns the exit status (0 after a clean drain, 1 when a process could not start)."""
    from ._run import keep_private

    keep_private()
    status = 1
    with contextlib.ExitStack() as stack:
        port = stack.enter_context(_hold_port(config))
        metrics: GatheredMetrics | None = None
        if config.metrics_port is not None:
            directory = tempfile.mkdtemp(prefix="verifykit-metrics-")
            stack.callback(shutil.rmtree, directory, ignore_errors=True)
            metrics = GatheredMetrics(directory)
            metrics.serve(config.metrics_host, config.metrics_port)
            stack.callback(metrics.close)
        supervisor = _Supervisor(config, port, metrics)
        previous = {sig: signal.signal(sig, supervisor.on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            status = supervisor.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for child in supervisor.children:  # after an error here: leave no child behind
                if child.running and child.proc is not None:
                    child.proc.kill()
                    child.proc.wait()
    return status


# -- the child ---------------------------------------------------------------------------------------


def _end_with_parent(parent: int) -> None:
    """SIGTERM (a drain) when the parent ends, even by SIGKILL (Linux)."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it ended before we asked
        os.kill(os.getpid(), signal.SIGTERM)


def _child_main(ready: int) -> int:
    """One server process: its configuration on stdin, "ready" on the descriptor ``ready``."""
    from ._app import create_server
    from ._run import configure_logging, keep_private, run_until_signal

    # A terminal's Ctrl-C reaches the whole process group; the parent decides, and sends SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    early: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: early.append(signum))
    config, parent = pickle.load(sys.stdin.buffer)  # noqa: S301 - from our parent, over a pipe
    if not isinstance(config, ServerConfig):
        return 2
    _end_with_parent(parent)
    keep_private()
    configure_logging(config.log_level)
    try:
        sidecar, _port = create_server(config, supervised=True)
    except VerifyKitError as exc:
        print(f"verifykit: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    if early:  # asked to stop while it was being built: it has served nothing
        sidecar.stop(0)
        return 0

    def started() -> None:
        os.write(ready, _READY)
        os.close(ready)
        if early:
            os.kill(os.getpid(), signal.SIGTERM)  # came between the build and the handler

    return run_until_signal(sidecar, started, signals=(signal.SIGTERM,))


if __name__ == "__main__":
    sys.exit(_child_main(int(sys.argv[1])))
