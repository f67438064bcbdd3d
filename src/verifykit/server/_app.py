"""Assemble a sidecar from a :class:`ServerConfig`: async verifiers, a ``grpc.aio`` server,
health, reflection, TLS, interceptors, metrics. :func:`create_server` binds the port (0 picks a
free one) and returns it, so tests and embedders never guess.

The server runs on an event loop of its own, in a thread the :class:`Sidecar` owns, so a
blocking caller (``verifykit serve``, tests, a sync service embedding it) starts and stops it
with plain calls. Every verifier call is a coroutine on that loop; heavy work runs in threads or
worker processes behind the :class:`._pool.HeavyGate`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from .._audit import AuditEvent, AuditSink, LoggingAuditSink, tee
from .._errors import ConfigurationError, StoreUnavailable
from .._flow import AsyncMailerLike
from .._wire import (
    email_otp_pb2,
    email_otp_pb2_grpc,
    face_pb2,
    face_pb2_grpc,
    ladder_pb2,
    ladder_pb2_grpc,
    passkey_pb2,
    passkey_pb2_grpc,
    password_pb2,
    password_pb2_grpc,
    recovery_pb2,
    recovery_pb2_grpc,
    totp_pb2,
    totp_pb2_grpc,
    voucher_pb2,
    voucher_pb2_grpc,
)
from ..aio import (
    AsyncChallengeStore,
    AsyncSMTPMailer,
    EmailOTP,
    Ladder,
    RecoveryCodes,
    TOTPVerifier,
    Vouchers,
    open_store,
)
from ..auditlog import AuditLog, parse_private_key
from ..crypto import Keyring
from ..delivery import ConsoleMailer, FileMailer, Mailer
from ..fallbacks import RecoverySettings, TOTPSettings
from ..otp import OTPSettings
from ..store import LockoutPolicy, SharedEntries
from ..vouchers import RegistryFile, VoucherSettings
from ._config import ServerConfig
from ._interceptors import AuthInterceptor, CallInterceptor, Recorder
from ._metrics import Metrics
from ._pool import HeavyGate

if TYPE_CHECKING:
    from ..face import FaceWorkers
from ._services import (
    EmailOtpServicer,
    FaceServicer,
    LadderServicer,
    PasskeyServicer,
    PasswordServicer,
    RecoveryCodeServicer,
    TotpServicer,
    VoucherServicer,
    enrolled_ways,
)

__all__ = ["Components", "Sidecar", "create_server", "open_mailer"]

_log = logging.getLogger("verifykit.server")
# Services whose requests (photos) may reach max_message_bytes; every other takes max_request_bytes.
_LARGE_REQUESTS = frozenset(service.full_name for service in face_pb2.DESCRIPTOR.services_by_name.values())
T = TypeVar("T")
AnyMailer = AsyncMailerLike | Mailer


def open_mailer(spec: str) -> AnyMailer:
    """``console``, ``file:DIR``, or ``smtp[s]://[user:password@]host[:port][?security=starttls|tls|none]``.

    SMTP is spoken on the event loop (:class:`~verifykit.delivery.AsyncSMTPMailer`): the same
    conversation, deadline, retries and errors as the blocking mailer.
    """
    if spec == "console":
        return ConsoleMailer(sys.stdout)
    if spec.startswith("file:"):
        directory = spec.removeprefix("file:")
        if not directory:
            raise ConfigurationError("mailer file: needs a directory, e.g. file:/var/spool/verifykit")
        return FileMailer(Path(directory).expanduser())
    try:
        url = urlsplit(spec)
        port = url.port
    except ValueError:  # its message may quote the URL, password included
        raise ConfigurationError("the mailer URL is malformed") from None
    if url.scheme in {"smtp", "smtps"} and url.hostname:
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        security = query.get("security", "tls" if url.scheme == "smtps" else "starttls")
        return AsyncSMTPMailer(
            url.hostname,
            port or (465 if url.scheme == "smtps" else 587),
            security=security,  # type: ignore[arg-type]  # the mailer validates it
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
        )
    raise ConfigurationError("mailer must be console, file:DIR, smtp://… or smtps://…")


def _keyring(config: ServerConfig) -> Keyring:
    keys = config.keyring_string()
    if keys:
        return Keyring.from_string(keys)
    if not config.store.startswith("memory:"):
        raise ConfigurationError(
            "a shared store needs shared keys: set VERIFYKIT_KEYS (or keys_file) on every sidecar "
            "(make one with: python -c 'from verifykit import Keyring; "
            "print(Keyring.new_keyring_string())')"
        )
    _log.warning("no keys configured: using a throw-away key (fine for the memory store, lost on restart)")
    return Keyring.generate()


@dataclass(slots=True)
class Components:
    """Parts a caller may supply instead of building them from the configuration (tests, embedding).

    ``store`` is an async store (:func:`verifykit.aio.open_store`); the sidecar closes it when it
    stops. ``mailer`` is an async mailer or a blocking one (run in a thread).
    """

    store: AsyncChallengeStore | None = None
    keyring: Keyring | None = None
    mailer: AnyMailer | None = None
    audit: AuditSink | None = None
    otp_settings: OTPSettings | None = None
    totp_settings: TOTPSettings | None = None


class _Loop:
    """An event loop running in a daemon thread, and a blocking way to run coroutines on it."""

    def __init__(self, threads: int) -> None:
        self.loop = asyncio.new_event_loop()
        # Blocking I/O beside the loop (a sync mailer, the face index); heavy work has its own threads.
        self.loop.set_default_executor(ThreadPoolExecutor(threads, thread_name_prefix="verifykit-io"))
        self._thread = threading.Thread(target=self.loop.run_forever, name="verifykit-sidecar", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.run(self.loop.shutdown_default_executor())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


READINESS_PERIOD = 0.5  # seconds between looks at the services whose health has a check of its own


class Sidecar:
    """A built server: :meth:`start`, then :meth:`stop` (or :meth:`drain` on SIGTERM).

    ``loop`` is the event loop it serves on; ``heavy`` admits the CPU-heavy calls.
    """

    def __init__(
        self,
        *,
        runner: _Loop,
        server: grpc.aio.Server,
        health_servicer: health_aio.HealthServicer,
        services: list[str],
        heavy: HeavyGate,
        store: AsyncChallengeStore,
        metrics: Metrics | None,
        config: ServerConfig,
    ) -> None:
        self._runner = runner
        self.loop = runner.loop
        self.grpc_server = server
        self.health = health_servicer
        self.services = services
        self.heavy = heavy
        self.store = store
        self.metrics = metrics
        self.config = config
        self.metrics_port: int | None = None
        self.on_stop: list[Callable[[], None]] = []
        # Services whose health follows a check of their own (the face service: can a photo be
        # read?), looked at every READINESS_PERIOD seconds while the sidecar serves.
        self.readiness: dict[str, Callable[[], bool]] = {}
        # Names whose health also follows the store (pinged as often): no verifier decides
        # anything without it, so while it does not answer the server ("") is not ready either.
        self.store_services: frozenset[str] = frozenset(["", *services])
        self._store_answers = True
        self._watcher: asyncio.Task[None] | None = None
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()

    def start(self) -> None:
        metrics = self.metrics
        if metrics is not None and self.config.metrics_port is not None and not metrics.multiprocess:
            self.metrics_port = metrics.serve(self.config.metrics_host, self.config.metrics_port)
        self._runner.run(self._start())

    async def _start(self) -> None:
        await self.grpc_server.start()
        # A store that is down at start never shows SERVING, not even until the first look.
        store_up = await self._ping_store()
        status = health_pb2.HealthCheckResponse
        for name in ["", *self.services]:
            serving = store_up or name not in self.store_services
            await self.health.set(name, status.SERVING if serving else status.NOT_SERVING)
        self._watcher = asyncio.get_running_loop().create_task(self._watch(store_up))

    async def _watch(self, store_up: bool) -> None:
        """Every READINESS_PERIOD: ping the store, run the readiness checks, and change the
        health of each name whose answer changed (a check is skipped while the store is down)."""
        names = list(dict.fromkeys(["", *self.services, *self.readiness]))
        shown = {name: store_up or name not in self.store_services for name in names}
        status = health_pb2.HealthCheckResponse
        while True:
            for name in names:
                ready = store_up or name not in self.store_services
                check = self.readiness.get(name)
                if ready and check is not None:
                    ready = await asyncio.to_thread(check)
                if ready != shown[name]:
                    shown[name] = ready
                    await self.health.set(name, status.SERVING if ready else status.NOT_SERVING)
            await asyncio.sleep(READINESS_PERIOD)
            store_up = await self._ping_store()

    async def _ping_store(self) -> bool:
        """Whether the store answers; logs once when it stops answering (where, and why) and once
        when it answers again."""
        # The asyncio stores' ping names where the store is and why it failed; any other
        # store is asked the time, its cheapest round trip.
        ping = getattr(self.store, "ping", None)
        try:
            await (ping() if ping is not None else self.store.now())
        except Exception as exc:
            if self._store_answers:
                cause = str(exc) if isinstance(exc, StoreUnavailable) else type(exc).__name__
                _log.error("health NOT_SERVING until the store answers: %s", cause)
            self._store_answers = False
            return False
        if not self._store_answers:
            _log.warning("health SERVING: %r answers again", self.store)
        self._store_answers = True
        return True

    def stop(self, grace: float | None = None) -> None:
        """Go NOT_SERVING, refuse new calls, let in-flight calls finish within ``grace`` seconds,
        then release the heavy gate, the store and the metrics port. Safe to call twice."""
        with self._stop_lock:
            if self._stopped.is_set():
                return
            try:
                self._runner.run(self._stop(self.config.grace if grace is None else grace))
            finally:
                self._runner.close()
                if self.metrics is not None:
                    self.metrics.close()
                self._stopped.set()

    async def _stop(self, grace: float) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        await self.health.enter_graceful_shutdown()
        await self.grpc_server.stop(grace)
        for hook in self.on_stop:
            try:
                await asyncio.to_thread(hook)
            except Exception:  # a failed save must not keep the store open or the process up
                _log.exception("a stop step failed")
        await asyncio.to_thread(self.heavy.shutdown)
        await self.store.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` has finished; False if ``timeout`` passed first."""
        return self._stopped.wait(timeout)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what} {path}: {exc.strerror}") from exc


def _bind(server: grpc.aio.Server, config: ServerConfig) -> int:
    try:
        if config.tls_cert is not None and config.tls_key is not None:
            client_ca = _read(config.tls_client_ca, "tls_client_ca") if config.tls_client_ca else None
            credentials = grpc.ssl_server_credentials(
                [(_read(config.tls_key, "tls_key"), _read(config.tls_cert, "tls_cert"))],
                root_certificates=client_ca,
                require_client_auth=client_ca is not None,
            )
            port = server.add_secure_port(config.listen, credentials)
        else:
            port = server.add_insecure_port(config.listen)
    except RuntimeError as exc:
        raise ConfigurationError(f"cannot listen on {config.listen}: {exc}") from exc
    if port == 0:
        raise ConfigurationError(f"cannot listen on {config.listen}")
    return int(port)


def create_server(
    config: ServerConfig, components: Components | None = None, *, supervised: bool = False
) -> tuple[Sidecar, int]:
    """Build the sidecar and bind its port; call :meth:`Sidecar.start` to serve.

    Returns the sidecar and the port it bound (useful with ``listen="127.0.0.1:0"``).
    ``supervised``: one of the server processes of ``verifykit serve --processes N``, which
    shares its port with its siblings (SO_REUSEPORT) and leaves its metrics to the parent.
    """
    runner = _Loop(config.workers)
    try:
        sidecar, port = runner.run(_build(runner, config, components or Components(), supervised))
    except BaseException:
        runner.close()
        raise
    return sidecar, port


async def _build(
    runner: _Loop, config: ServerConfig, parts: Components, supervised: bool
) -> tuple[Sidecar, int]:
    # Before anything is opened: a refused mailer must not leave a store connection behind.
    mailer_url = config.mailer_url() if parts.mailer is None else None
    for risk in config.risks(mailer_url):
        _log.warning("insecure setting %s", risk)
    # `is None`, not `or`: an empty Outbox is falsy.
    keyring = parts.keyring if parts.keyring is not None else _keyring(config)
    store = parts.store if parts.store is not None else open_store(config.store, namespace=config.namespace)
    try:
        return await _assemble(
            runner,
            config=config,
            parts=parts,
            keyring=keyring,
            store=store,
            mailer_url=mailer_url,
            supervised=supervised,
        )
    except BaseException:
        if parts.store is None:
            await store.close()
        raise


async def _assemble(
    runner: _Loop,
    *,
    config: ServerConfig,
    parts: Components,
    keyring: Keyring,
    store: AsyncChallengeStore,
    mailer_url: str | None,
    supervised: bool,
) -> tuple[Sidecar, int]:
    mailer = parts.mailer if parts.mailer is not None else open_mailer(mailer_url or config.mailer)
    audit, audit_log = _audit_sinks(config, parts, keyring)
    token = config.bearer_token()
    metrics = Metrics(multiprocess=supervised) if config.metrics_port is not None else None
    # The metrics count the events the audit sinks took, after them: the two never disagree.
    decisions = tee(audit, metrics.decided if metrics is not None else None)
    otp = EmailOTP(
        store=store,
        keyring=keyring,
        mailer=mailer,
        settings=_capped(
            config, parts.otp_settings if parts.otp_settings is not None else config.otp_settings()
        ),
        audit=decisions,
        ways_in=enrolled_ways,
    )
    recorder = Recorder(metrics=metrics, access_log=config.access_log)
    interceptors: list[grpc.aio.ServerInterceptor] = []
    if token is not None:
        interceptors.append(
            AuthInterceptor(
                token,
                recorder=recorder,
                health_reads=config.health_reads,
                max_request_bytes=config.max_request_bytes,
            )
        )
    interceptors.append(
        CallInterceptor(
            keyring=keyring,
            recorder=recorder,
            max_request_bytes=config.max_request_bytes,
            large_services=_LARGE_REQUESTS,
        )
    )
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            # Server-wide: it must admit a face photo. Other methods: max_request_bytes, above.
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.max_concurrent_streams", config.max_streams_per_connection),
            # Off: a fixed stream window (64 KiB), the most a call can send before it is read or
            # refused. Probes grow every stream's window, unread ones included.
            ("grpc.http2.bdp_probe", int(config.http2_bdp_probe)),
            # Share the port only with sibling server processes (whose parent checked it was
            # free): any other second sidecar on the same port must fail.
            ("grpc.so_reuseport", int(supervised)),
        ],
        # Beyond this, gRPC answers RESOURCE_EXHAUSTED before it reads the call's request.
        maximum_concurrent_rpcs=config.max_concurrent_rpcs,
    )
    gate = HeavyGate(config.heavy_worker_count, config.heavy_slots)
    services = [_register(server, EmailOtpServicer(otp), email_otp_pb2, email_otp_pb2_grpc)]
    shared = _Shared(config, keyring, store, decisions, gate, audited=audit is not None)
    services += _add_ladder_services(server, shared, parts)
    password = _password_service(shared)
    if password is not None:
        services.append(_register(server, password, password_pb2, password_pb2_grpc))
    face = _face_service(shared)
    stop_hooks: list[Callable[[], None]] = []
    readiness: dict[str, Callable[[], bool]] = {}
    if face is not None:
        name = _register(server, face[0], face_pb2, face_pb2_grpc)
        services.append(name)
        stop_hooks = face[1]
        workers = face[2]
        if workers is not None:
            readiness[name] = lambda: workers.status().ready
            if metrics is not None:
                metrics.watch_face_workers(workers.status)
    if audit_log is not None:
        stop_hooks = [*stop_hooks, audit_log.close]  # last: its closing checkpoint seals every record
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*services, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
        server,
    )
    try:
        port = _bind(server, config)
    except ConfigurationError:
        for hook in stop_hooks:
            hook()
        gate.shutdown()
        raise
    sidecar = Sidecar(
        runner=runner,
        server=server,
        health_servicer=health_servicer,
        services=services,
        heavy=gate,
        store=store,
        metrics=metrics,
        config=config,
    )
    sidecar.on_stop.extend(stop_hooks)
    sidecar.readiness.update(readiness)
    return sidecar, port


def _register(server: grpc.aio.Server, servicer: Any, messages: ModuleType, stubs: ModuleType) -> str:
    """Add ``servicer`` to ``server`` through its generated ``add_…Servicer_to_server``; returns
    the service's full name, for health and reflection."""
    (service,) = messages.DESCRIPTOR.services_by_name.values()
    getattr(stubs, f"add_{service.name}Servicer_to_server")(servicer, server)
    return str(service.full_name)


@dataclass(frozen=True, slots=True)
class _Shared:
    """What every verifier of one sidecar shares. ``audit`` is the verifiers' sink (the audit
    sinks, then the metrics); ``audited``: whether it holds an audit sink, not only the metrics."""

    config: ServerConfig
    keyring: Keyring
    store: AsyncChallengeStore
    audit: AuditSink | None
    gate: HeavyGate
    audited: bool


def _face_service(
    shared: _Shared,
) -> tuple[FaceServicer, list[Callable[[], None]], FaceWorkers | None] | None:
    """The face service, what to do at stop, and its face workers (None with threads); None when
    the face extra is not installed. The workers are the process's shared pool: they end at exit,
    not at stop, so sidecars built one after another in one process reuse them."""
    try:
        from ..aio import FaceIndex, FaceVerifier
        from ..face import FaceSettings, require_installed

        require_installed()
    except ImportError as exc:
        _log.warning("face verification is off: the face extra is not installed (%s)", exc.name)
        return None
    except ConfigurationError as exc:
        _log.warning("face verification is off: %s", exc)
        return None
    config, keyring = shared.config, shared.keyring
    settings = _capped(
        config,
        FaceSettings.preset(
            config.face_preset,
            expose_scores=config.face_scores,
            workers=config.face_workers,
            processes=config.heavy_worker_count,
            worker_memory=config.face_worker_memory,
            worker_cpu_seconds=config.face_worker_cpu_seconds,
        ),
    )
    verifier = FaceVerifier(
        store=shared.store,
        keyring=keyring,
        settings=settings,
        audit=shared.audit,
        threads=shared.gate.executor,
    )
    audit = shared.audit or _discard
    path = config.face_index
    if not config.store.startswith("memory:"):
        # A shared store holds the index: every sidecar follows it (docs/face.md, "shared index").
        if path is not None:
            _log.warning("face_index %s is not used: the index lives in the shared store", path)
        entries = SharedEntries(config.store, namespace=config.namespace)
        # Rebuilt once, blocking, before the server serves (about ten seconds a million).
        index = FaceIndex(keyring, settings=settings, store=shared.store, audit=audit, shared=entries)
        hooks: list[Callable[[], None]] = [index.close, entries.close]
    elif path is not None and path.exists():  # read once, blocking, before the server serves
        index = FaceIndex.load(path, keyring, settings=settings, store=shared.store, audit=audit)
        hooks = [lambda: index.save(path)]
    else:
        index = FaceIndex(keyring, settings=settings, store=shared.store, audit=audit)
        hooks = [] if path is None else [lambda: index.save(path)]
    workers = verifier._pool
    if workers is not None:
        workers.start()  # now, so health knows whether photos can be read before the first one
    return FaceServicer(verifier, index, shared.gate), hooks, workers


def _password_service(shared: _Shared) -> PasswordServicer | None:
    """The password service; None when the password verifier is not available."""
    try:
        from ..aio import PasswordVerifier
        from ..password import PasswordSettings
    except ImportError as exc:
        _log.warning("password verification is off: %s", exc)
        return None
    config = shared.config
    # The service's name is a context word a password may not contain, as in the messages it sends.
    settings = PasswordSettings(service_name=config.otp_settings().service_name)
    if config.password_preset is not None:
        settings = dataclasses.replace(settings, preset=config.password_preset)
    settings = _capped(config, settings)
    verifier = PasswordVerifier(
        store=shared.store,
        keyring=shared.keyring,
        settings=settings,
        audit=shared.audit,
        threads=shared.gate.executor,
    )
    return PasswordServicer(verifier, shared.gate)


def _add_ladder_services(server: grpc.aio.Server, shared: _Shared, parts: Components) -> list[str]:
    """The ways in beside the email code: TOTP, recovery codes, the ladder, and counter vouchers
    and passkeys when configured. Returns the names of the services added."""
    config, store, keyring, audit = shared.config, shared.store, shared.keyring, shared.audit
    totp_settings = _capped(
        config, parts.totp_settings if parts.totp_settings is not None else TOTPSettings()
    )
    totp = TotpServicer(TOTPVerifier(store=store, keyring=keyring, settings=totp_settings, audit=audit))
    recovery_codes = RecoveryCodes(
        store=store, keyring=keyring, settings=_capped(config, RecoverySettings()), audit=audit
    )
    recovery = RecoveryCodeServicer(recovery_codes)
    ladder = LadderServicer(Ladder(store=store, keyring=keyring))
    names = [
        _register(server, totp, totp_pb2, totp_pb2_grpc),
        _register(server, recovery, recovery_pb2, recovery_pb2_grpc),
        _register(server, ladder, ladder_pb2, ladder_pb2_grpc),
    ]
    vouchers = _voucher_service(shared)
    if vouchers is not None:
        names.append(_register(server, vouchers, voucher_pb2, voucher_pb2_grpc))
    passkeys = _passkey_service(shared)
    if passkeys is not None:
        names.append(_register(server, passkeys, passkey_pb2, passkey_pb2_grpc))
    return names


def _passkey_service(shared: _Shared) -> PasskeyServicer | None:
    """Passkeys, when the operator named a relying party (``passkey_rp_id``) and the passkey extra
    is installed; else None, and the service is absent (UNIMPLEMENTED). The attestation root files
    are read once now, so a bad one stops the start."""
    config = shared.config
    settings = config.passkey_settings()
    if settings is None:
        return None
    from ..aio import PasskeyVerifier

    try:
        verifier = PasskeyVerifier(
            store=shared.store, keyring=shared.keyring, settings=_capped(config, settings), audit=shared.audit
        )
    except ConfigurationError as exc:  # the passkey extra (fido2) is not installed
        _log.warning("passkeys are off: %s", exc)
        return None
    return PasskeyServicer(verifier)


def _voucher_service(shared: _Shared) -> VoucherServicer | None:
    """Counter vouchers, when the sidecar has an officer registry (and so, by the configuration's
    rule, an audit log). The registry is read once now, so a bad file stops the start."""
    config = shared.config
    if config.officers_file is None:
        return None
    if not shared.audited:
        raise ConfigurationError("officers_file needs an audit sink: set audit_file and audit_key_file")
    registry = RegistryFile(config.officers_file)
    registry.current()
    vouchers = Vouchers(
        store=shared.store,
        keyring=shared.keyring,
        registry=registry,
        settings=VoucherSettings(four_eyes=config.voucher_four_eyes),
        audit=shared.audit,
    )
    return VoucherServicer(vouchers)


S = TypeVar("S")


def _capped(config: ServerConfig, settings: S) -> S:
    """``settings`` with its lockout's hard cap (and threshold, which may not exceed it) lowered
    to ``lockout_hard_cap`` when that is set."""
    cap = config.lockout_hard_cap
    policy = getattr(settings, "lockout", None)
    if cap is None or not isinstance(policy, LockoutPolicy) or policy.hard_cap <= cap:
        return settings
    lowered = dataclasses.replace(policy, threshold=min(policy.threshold, cap), hard_cap=cap)
    return dataclasses.replace(settings, lockout=lowered)  # type: ignore[type-var]


def _audit_sinks(
    config: ServerConfig, parts: Components, keyring: Keyring
) -> tuple[AuditSink | None, AuditLog | None]:
    """The sink every verifier gets (None: they skip building events at all), and the
    tamper-evident log of ``audit_file`` in it (subjects written as their keyed tags), to close."""
    audit: AuditSink | None = None
    if parts.audit is not None:
        audit = parts.audit
    elif config.audit_log:
        audit = LoggingAuditSink()
    key = config.audit_signing_key()
    if config.audit_file is None or key is None:
        return audit, None
    log = AuditLog(
        config.audit_file,
        parse_private_key(key),
        settings=config.audit_settings(),
        keyring=keyring,
        anchor=config.audit_anchor,  # checkpoints also shipped there, off the decision path
    )
    return (log if audit is None else _Both(log, audit)), log


class _Both:
    """The audit log first (its failure is the decision's: fail closed), then the stderr lines."""

    def __init__(self, log: AuditSink, lines: AuditSink) -> None:
        self._log, self._lines = log, lines

    def __call__(self, event: AuditEvent) -> None:
        self._log(event)
        self._lines(event)


def _discard(_event: AuditEvent) -> None:
    return None
