"""Prometheus metrics for the sidecar, on a port of their own (off unless asked for).

Labels are method names, status codes and verdict reasons: never subjects, addresses or
anything a person typed, so the label sets stay small and hold nothing personal. Calls refused
for a missing or wrong bearer token count too (code ``UNAUTHENTICATED``), so token guessing shows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError

if TYPE_CHECKING:
    from ..face import WorkerStatus

__all__ = ["Metrics"]

# Seconds; from a fast OTP check on loopback to a slow face verify on a 12 MP photo.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Counters and a latency histogram in a registry of this server's own."""

    def __init__(self) -> None:
        try:
            import prometheus_client as prom
        except ImportError as exc:
            raise ConfigurationError("metrics need prometheus-client: pip install 'verifykit[grpc]'") from exc
        self._prom = prom
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
        self._http: Any = None
        self._thread: threading.Thread | None = None
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
        """Export the face workers' state, read from ``status`` at each scrape."""
        self.registry.register(_FaceWorkers(status))

    def serve(self, host: str, port: int) -> int:
        """Expose ``/metrics`` over HTTP; returns the bound port."""
        try:
            self._http, self._thread = self._prom.start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigurationError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from exc
        self.port = int(self._http.server_port)
        return self.port

    def close(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


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
