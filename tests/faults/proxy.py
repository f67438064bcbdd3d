"""A TCP fault proxy on loopback, between verifykit and a real ``redis-server``.

Tests switch its fault at any moment (:meth:`FaultProxy.delay`, :meth:`drop`, :meth:`reset`,
:meth:`blackhole`, :meth:`heal`); every connection, open or new, obeys the fault in force:

- ``delay``: each reply chunk is held back ``seconds`` before it is passed on;
- ``drop``: open connections are closed, new ones are accepted and closed at once;
- ``reset``: the next reply chunk on each connection is cut in half and the connection reset (RST);
- ``blackhole``: connections are accepted, requests swallowed, nothing ever answered.

Threads, not asyncio: the proxy must keep working while the test's own event loop is busy.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from contextlib import suppress

__all__ = ["FaultProxy"]

_POLL = 0.02  # how often a pump looks at the fault in force (seconds)
_CHUNK = 65536


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN (SO_LINGER with a zero timeout)."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with suppress(OSError):
        sock.close()


class _Link:
    """One client connection and its upstream connection, pumped by two threads."""

    def __init__(self, proxy: FaultProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.closed = threading.Event()
        # Both timeouts before either pump starts: a pump that meets a fault closes both sockets.
        client.settimeout(_POLL)
        upstream.settimeout(_POLL)
        for source, target, replies in ((client, upstream, False), (upstream, client, True)):
            threading.Thread(target=self._pump, args=(source, target, replies), daemon=True).start()

    def close(self, *, rst: bool = False) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        if rst:
            _reset(self.client)
        else:
            with suppress(OSError):
                self.client.close()
        with suppress(OSError):
            self.upstream.close()
        self.proxy.forget(self)

    def _pump(self, source: socket.socket, target: socket.socket, replies: bool) -> None:
        while not self.closed.is_set():
            fault, delay = self.proxy.fault
            if fault == "drop":
                self.close()
                return
            try:
                data = source.recv(_CHUNK)
            except TimeoutError:
                continue
            except OSError:
                self.close()
                return
            if not data:
                self.close()
                return
            fault, delay = self.proxy.fault
            self.proxy.count(len(data))
            if fault == "blackhole":
                continue  # swallowed: the client waits for an answer that never comes
            if replies and fault == "reset":
                with suppress(OSError):
                    target.sendall(data[: max(1, len(data) // 2)])
                self.close(rst=True)
                return
            if replies and fault == "delay":
                time.sleep(delay)
            try:
                target.sendall(data)
            except OSError:
                self.close()
                return


class FaultProxy:
    """Listens on a free loopback port and forwards to ``upstream`` (host, port), with faults."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._lock = threading.Lock()
        self._fault: tuple[str, float] = ("none", 0.0)
        self._links: set[_Link] = set()
        self.bytes = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_POLL)
        self.port = int(self._listener.getsockname()[1])
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name=f"fault-proxy-{self.port}")
        self._thread.start()

    def url(self, scheme: str = "redis", query: str = "") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/0" + (f"?{query}" if query else "")

    @property
    def fault(self) -> tuple[str, float]:
        return self._fault

    def count(self, size: int) -> None:
        with self._lock:
            self.bytes += size

    def forget(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)

    # -- faults -------------------------------------------------------------------------------

    def delay(self, seconds: float) -> None:
        self._fault = ("delay", seconds)

    def drop(self) -> None:
        self._fault = ("drop", 0.0)
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()

    def reset(self) -> None:
        self._fault = ("reset", 0.0)

    def blackhole(self) -> None:
        self._fault = ("blackhole", 0.0)

    def heal(self) -> None:
        self._fault = ("none", 0.0)

    # -- plumbing -----------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._fault[0] == "drop":
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=2.0)
            except OSError:
                client.close()
                continue
            try:
                link = _Link(self, client, upstream)
            except OSError:  # a fault closed them first: the proxy must keep accepting
                client.close()
                upstream.close()
                continue
            with self._lock:
                self._links.add(link)

    def close(self) -> None:
        self._stopped.set()
        with suppress(OSError):
            self._listener.close()
        self._thread.join(timeout=5)
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
