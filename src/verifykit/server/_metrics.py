"""Prometheus metrics for the sidecar, on a port of their own (off unless asked for).

Labels are method names, status codes and verdict reasons: never subjects, addresses or
anything a person typed, so the label sets stay small and hold nothing personal. Calls refused
for a missing or wrong bearer token count too (code ``UNAUTHENTICATED``), so token guessing shows.

With several server processes (``verifykit serve --processes N``) each process writes its values
to files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) and the parent
serves them summed (:class:`GatheredMetrics`): counters and histograms add up over every process
that ever ran, the face workers' gauge over the processes alive.

The domain series (starts, approvals, verdicts by way in, deliveries, lockouts, vouchers,
passkeys) are counted from the audit events the verifiers emit (:meth:`Metrics.decided`, teed
after the audit sinks), so they count exactly what the audit log records. Their labels are names
from the library's own enums; any other value (a delivery failure's text, say) becomes ``other``.
See docs/metrics.md for each series and the questions it answers.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .._audit import AuditEvent
from .._errors import ConfigurationError
from .._verdict import Reason, Way

if TYPE_CHECKING:
    from ..face import WorkerStatus

__all__ = ["GatheredMetrics", "Metrics"]

_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_FACE_REFRESH = 1.0  # seconds between copies of the face workers' state into the shared files

# Seconds; from a fast OTP check on loopback to a slow face verify on a 12 MP photo.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Seconds from a start to its approval: a person reading a mail, up to a code's longest life.
_APPROVAL_BUCKETS = (5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800, 3600)

_log = logging.getLogger("verifykit.server")
_OTHER = "other"  # the label of any value outside the known names, so label sets stay bounded
_WAYS = frozenset(Way)
_REASONS = frozenset(Reason)
# The audit actions and outcomes the verifiers write; any other counts as ``other``.
_ACTIONS = frozenset(
    {"start", "send", "resend", "check", "cancel", "limit", "verify", "enroll", "remove", "generate"}
    | {"redeem", "options", "set", "index_add", "index_remove", "search"}
)
_OUTCOMES = frozenset(
    {"approved", "denied", "refused", "pending", "sent", "failed", "canceled", "enrolled", "rejected"}
    | {"removed", "issued", "hashed", "added", "replaced", "absent", "searched"}
)
# The action of each way in that decides whether a person gets in: its verdict.
_CHECKS: dict[str, str] = {
    Way.EMAIL_CODE.value: "check",
    Way.PASSWORD.value: "verify",
    Way.AUTHENTICATOR_APP.value: "verify",
    Way.RECOVERY_CODE.value: "redeem",
    Way.PASSKEY.value: "verify",
    Way.FACE.value: "verify",
    Way.COUNTER_VOUCHER.value: "redeem",
}
_LOCKS = frozenset({Reason.LOCKED_OUT.value, Reason.HARD_LOCKED.value})
# A started challenge whose approval this process waits for: at most this many at once (the
# oldest are forgotten first), each until its expiry passes.
_MAX_PENDING = 50_000
# Calls with no audit event that still begin a way in: a passkey sign-in's options.
_STARTED_BY_CALL = {"PasskeyService/BeginPasskeySignIn": Way.PASSKEY.value}


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
        self.domain = _DomainSeries(prom, self.registry)
        self.errors = prom.Counter(
            "verifykit_errors",
            "Calls that ended in an error, by method and error code (store_unavailable, busy, ...).",
            ["method", "error"],
            registry=self.registry,
        )
        self.offered = prom.Counter(
            "verifykit_ways_in_offered",
            "Ways in offered to a person: by the ladder (open rungs) or by a refused verdict.",
            ["way", "by"],
            registry=self.registry,
        )
        self._http: Any = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.port: int | None = None

    def observe(
        self,
        method: str,
        code: str,
        seconds: float,
        reason: str | None,
        refusal: str | None,
        *,
        error: str | None = None,
        offered: tuple[str, Sequence[str]] | None = None,
    ) -> None:
        """One answered call. ``error``: the library error's code it ended in; ``offered``: who
        offered (``ladder`` or ``verdict``) which ways in, by name."""
        self.calls.labels(method, code).inc()
        self.latency.labels(method).observe(seconds)
        if reason is not None:
            self.verdicts.labels(method, reason).inc()
        if refusal is not None:
            self.refusals.labels(method, refusal).inc()
        if error is not None:
            self.errors.labels(method, error).inc()
        if offered is not None:
            by, ways = offered
            for way in ways:
                self.offered.labels(_known(way, _WAYS), by).inc()
        started = _STARTED_BY_CALL.get(method)
        if started is not None and code == "OK":
            self.domain.starts.labels(started).inc()

    def decided(self, event: AuditEvent) -> None:
        """The audit sink that counts: teed after the audit sinks, so it sees what they took.
        A fault here is logged, never raised: counting must not change a decision."""
        try:
            self.domain.count(event)
        except Exception:
            _log.exception("metrics could not count %s/%s", event.verifier, event.action)

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


def _known(value: str, names: frozenset[str]) -> str:
    return value if value in names else _OTHER


def _reason(value: str) -> str:
    """A reason label: a :class:`Reason`, the name of a limit (``client_limit``), or ``other``."""
    if value in _REASONS:
        return value
    if value.endswith("_limit") and len(value) <= 32 and value.replace("_", "").isalpha():
        return value
    return _OTHER if value else ""


def _delivery(event: AuditEvent) -> str:
    """``sent``, or a failure by kind: its reason text starts with ``temporary:`` or ``permanent:``."""
    if event.outcome == "sent":
        return "sent"
    kind = event.reason.partition(":")[0]
    return f"failed_{kind}" if kind in ("temporary", "permanent") else "failed"


class _DomainSeries:
    """The series counted from audit events (see :meth:`Metrics.decided`).

    Time from start to approval: an approval whose event carries ``started_at`` (the challenge's
    creation, on the store's clock) is timed from it; otherwise from the start event this
    process saw for the same challenge, kept until the challenge expires.
    """

    def __init__(self, prom: Any, registry: Any) -> None:
        def counter(name: str, doc: str, labels: list[str]) -> Any:
            return prom.Counter(name, doc, labels, registry=registry)

        self.decisions = counter(
            "verifykit_decisions",
            "Audit events written, by way in, action and outcome: the audit log, counted.",
            ["way", "action", "outcome"],
        )
        self.starts = counter(
            "verifykit_starts",
            "Ways in begun: email-code challenges started, passkey sign-ins offered.",
            ["way"],
        )
        self.checks = counter(
            "verifykit_checks",
            "Verdicts of each way in (a code checked, a password, a passkey, a face, a voucher), "
            "by outcome and reason.",
            ["way", "outcome", "reason"],
        )
        self.approvals = counter("verifykit_approvals", "People let in, by the way in that did it.", ["way"])
        self.approval_time = prom.Histogram(
            "verifykit_approval_seconds",
            "Time from a start to its approval, by way in.",
            ["way"],
            buckets=_APPROVAL_BUCKETS,
            registry=registry,
        )
        self.deliveries = counter(
            "verifykit_deliveries",
            "Codes handed to the mailer, by way in and status (sent, failed_temporary, failed_permanent).",
            ["way", "status"],
        )
        self.lockouts = counter(
            "verifykit_lockout_refusals",
            "Tries refused because the subject is locked, by way in and lock (locked_out, hard_locked).",
            ["way", "lock"],
        )
        self.vouchers = counter(
            "verifykit_vouchers_redeemed",
            "Counter vouchers redeemed (a lock cleared), by the number of officers who signed.",
            ["officers"],
        )
        self.passkeys = counter(
            "verifykit_passkey_ceremonies",
            "Passkey registrations and assertions, by outcome and reason.",
            ["ceremony", "outcome", "reason"],
        )
        self._pending: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def count(self, event: AuditEvent) -> None:
        way = _known(event.verifier, _WAYS)
        outcome = _known(event.outcome, _OUTCOMES)
        self.decisions.labels(way, _known(event.action, _ACTIONS), outcome).inc()
        reason = _reason(event.reason)
        if reason in _LOCKS:
            self.lockouts.labels(way, reason).inc()
        if way == Way.EMAIL_CODE:
            self._email(event)
        if _CHECKS.get(way) == event.action:
            self.checks.labels(way, outcome, reason).inc()
            if outcome == "approved":
                self.approvals.labels(way).inc()
                self._approved(way, event)
        if way == Way.COUNTER_VOUCHER and event.action == "redeem" and outcome == "approved":
            signed = len(event.details.get("officers", "").split(","))
            self.vouchers.labels(str(signed) if signed in (1, 2) else _OTHER).inc()
        if way == Way.PASSKEY and event.action in ("enroll", "verify"):
            ceremony = "registration" if event.action == "enroll" else "assertion"
            self.passkeys.labels(ceremony, outcome, reason).inc()

    def _email(self, event: AuditEvent) -> None:
        if event.action == "start":
            self.starts.labels(Way.EMAIL_CODE.value).inc()
        elif event.action == "send":
            self.deliveries.labels(Way.EMAIL_CODE.value, _delivery(event)).inc()
        if event.challenge_id is None or event.action not in ("start", "resend"):
            return
        try:
            expires = float(event.details["expires_at"])
        except (KeyError, ValueError):
            return
        with self._lock:
            seen = self._pending.pop(event.challenge_id, None)
            if seen is not None or event.action == "start":  # a resend keeps its start, and its place last
                started = seen[0] if seen is not None else event.at
                self._pending[event.challenge_id] = (started, expires)
            self._forget(event.at)

    def _forget(self, now: float) -> None:
        """Drop challenges past their expiry, and the oldest beyond the bound (lock held)."""
        pending = self._pending
        while pending and (len(pending) > _MAX_PENDING or next(iter(pending.values()))[1] < now):
            pending.popitem(last=False)

    def _approved(self, way: str, event: AuditEvent) -> None:
        started: float | None = None
        given = event.details.get("started_at")
        if given is not None:
            try:
                started = float(given)
            except ValueError:
                started = None
        if event.challenge_id is not None:
            with self._lock:
                seen = self._pending.pop(event.challenge_id, None)
            if started is None and seen is not None:
                started = seen[0]
        if started is not None and event.at >= started:
            self.approval_time.labels(way).observe(event.at - started)


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
