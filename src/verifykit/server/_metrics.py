"""Prometheus metrics for the sidecar, on a port of their own (off unless asked for).

Labels are method names, status codes and verdict reasons: never subjects, addresses or
anything a person typed, so the label sets stay small and hold nothing personal. Calls refused
for a missing or wrong bearer token count too (code ``UNAUTHENTICATED``), so token guessing shows.

With several server processes (``verifykit serve --processes N``) each process writes its values
to files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) and the parent
serves them summed (:class:`GatheredMetrics`): counters and histograms add up over every process
that ever ran, the face workers' gauge over the processes alive.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError

if TYPE_CHECKING:
    from ..face import WorkerStatus

__all__ = ["GatheredMetrics", "Metrics"]

_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_FACE_REFRESH = 1.0  # seconds between copies of the face workers' state into the shared files

# Seconds; from a fast OTP check on loopback to a slow face verify on a 12 MP photo.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _prometheus() -> Any:
    try:
        import prometheus_client as prom
    except ImportError as exc:
        raise ConfigurationError("metrics need prometheus-client: pip install 'verifykit[grpc]'") from exc
    return prom


class Metrics:
    """Counters and a latency histogram in a registry of this server's own.

    ``multiprocess``: this is one of several server processes; its values go to the files of
    ``PROMETHEUS_MULTIPROC_DIR`` (set before prometheus-client is first imported) and the parent
    serves them, so :meth:`serve` is not called.
    """

    def __init__(self, *, multiprocess: bool = False) -> None:
        prom = _prometheus()
        if multiprocess and not os.environ.get(_MULTIPROC_ENV):
            raise ConfigurationError(f"metrics of several processes need {_MULTIPROC_ENV}")
        self._prom = prom
        self.multiprocess = multiprocess
        self.registry = prom.CollectorRegistry()
        self.calls = prom.Counter(
            "verifykit_grpc_calls",
            "Calls answered (refused ones included), by method and status code.",
            ["method", "code"],
            registry=self.registry,
        )
        self.latency = prom.Histogram(
            "verifykit_grpc_call_duration_seconds",
            "Time to answer a call, by method.",
            ["method"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.verdicts = prom.Counter(
            "verifykit_verdicts",
            "Verdicts given, by method and reason.",
            ["method", "reason"],
            registry=self.registry,
        )
        self.refusals = prom.Counter(
            "verifykit_rate_limit_refusals",
            "Calls refused by a rate limit, lockout or busy pool, by method and reason.",
            ["method", "reason"],
            registry=self.registry,
        )
        # Summed over the live processes in multiprocess mode: the parent drops one that ended.
        self.processes = prom.Gauge(
            "verifykit_server_processes",
            "Server processes running now (verifykit serve --processes).",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        self.processes.set(1)
        self._http: Any = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.port: int | None = None

    def observe(
        self, method: str, code: str, seconds: float, reason: str | None, refusal: str | None
    ) -> None:
        self.calls.labels(method, code).inc()
        self.latency.labels(method).observe(seconds)
        if reason is not None:
            self.verdicts.labels(method, reason).inc()
        if refusal is not None:
            self.refusals.labels(method, refusal).inc()

    def watch_face_workers(self, status: Callable[[], WorkerStatus]) -> None:
        """Export the face workers' state, read from ``status`` at each scrape (in multiprocess
        mode, copied into the shared files every second, since the parent scrapes)."""
        if not self.multiprocess:
            self.registry.register(_FaceWorkers(status))
            return
        values = _FaceWorkerValues(self._prom, self.registry, status)
        values.refresh()

        def refresh() -> None:
            while not self._closed.wait(_FACE_REFRESH):
                values.refresh()

        threading.Thread(target=refresh, name="verifykit-face-metrics", daemon=True).start()

    def serve(self, host: str, port: int) -> int:
        """Expose ``/metrics`` over HTTP; returns the bound port."""
        try:
            self._http, self._thread = self._prom.start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigurationError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from exc
        self.port = int(self._http.server_port)
        return self.port

    def close(self) -> None:
        self._closed.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


class GatheredMetrics:
    """The metrics of several server processes, served by their parent: it owns the private
    directory the processes write to (``environ()`` is what each process is started with) and
    serves every value in it, summed, on one port."""

    def __init__(self, directory: str) -> None:
        prom = _prometheus()
        self._prom = prom
        self._multiprocess: Any = importlib.import_module("prometheus_client.multiprocess")  # untyped
        self.directory = directory
        self.registry = prom.CollectorRegistry()
        self._multiprocess.MultiProcessCollector(self.registry, path=directory)
        self._http: Any = None
        self.port: int | None = None

    def environ(self) -> dict[str, str]:
        return {_MULTIPROC_ENV: self.directory}

    def serve(self, host: str, port: int) -> int:
        """Expose ``/metrics`` over HTTP; returns the bound port."""
        try:
            self._http, _thread = self._prom.start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigurationError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from exc
        self.port = int(self._http.server_port)
        return self.port

    def process_ended(self, pid: int) -> None:
        """Drop the live gauges of a server process that ended (its counters still count)."""
        self._multiprocess.mark_process_dead(pid, self.directory)

    def close(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


class _FaceWorkerValues:
    """The face workers' state as metrics of a process in multiprocess mode: the gauge is
    summed over the live processes, the counters over all of them."""

    def __init__(self, prom: Any, registry: Any, status: Callable[[], WorkerStatus]) -> None:
        self._status = status
        self.alive = prom.Gauge(
            "verifykit_face_workers_alive",
            "Face worker processes running now.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.replaced = prom.Counter(
            "verifykit_face_workers_replaced",
            "Face worker processes started again after one ended (a limit, a crash, a kill).",
            registry=registry,
        )
        self.refused = prom.Counter(
            "verifykit_face_photos_refused",
            "Photos refused for breaking a face worker's limit, by limit (memory, cpu, time).",
            ["limit"],
            registry=registry,
        )
        self.lost = prom.Counter(
            "verifykit_face_photos_lost",
            "Photos whose face worker ended before answering (a crash, a kill from outside).",
            registry=registry,
        )
        self._counted: dict[str, int] = {}

    def refresh(self) -> None:
        status = self._status()
        self.alive.set(status.alive)
        self._add("replaced", status.replaced, self.replaced)
        self._add("lost", status.lost, self.lost)
        for limit, count in status.refused.items():
            self._add(f"refused:{limit}", count, self.refused.labels(limit))

    def _add(self, key: str, total: int, counter: Any) -> None:
        """Counters only go up: add what the pool counted since the last refresh."""
        counter.inc(total - self._counted.get(key, 0))
        self._counted[key] = total


class _FaceWorkers:
    """A collector for the face workers: alive now, replaced, and photos refused per limit."""

    def __init__(self, status: Callable[[], WorkerStatus]) -> None:
        self._status = status

    def describe(self) -> list[Any]:
        return []  # so registering does not read the pool

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        status = self._status()
        yield GaugeMetricFamily(
            "verifykit_face_workers_alive", "Face worker processes running now.", value=status.alive
        )
        yield CounterMetricFamily(
            "verifykit_face_workers_replaced",
            "Face worker processes started again after one ended (a limit, a crash, a kill).",
            value=status.replaced,
        )
        refused = CounterMetricFamily(
            "verifykit_face_photos_refused",
            "Photos refused for breaking a face worker's limit, by limit (memory, cpu, time).",
            labels=["limit"],
        )
        for limit, count in status.refused.items():
            refused.add_metric([limit], count)
        yield refused
        yield CounterMetricFamily(
            "verifykit_face_photos_lost",
            "Photos whose face worker ended before answering (a crash, a kill from outside).",
            value=status.lost,
        )
