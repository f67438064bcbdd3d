"""Assemble a sidecar from a :class:`ServerConfig`: verifiers, gRPC server, health, reflection,
TLS, interceptors, metrics. :func:`create_server` binds the port (0 picks a free one) and
returns it, so tests and embedders never guess."""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from .._audit import AuditEvent, AuditSink, LoggingAuditSink
from .._errors import ConfigurationError
from ..crypto import Keyring
from ..delivery import ConsoleMailer, FileMailer, Mailer, SMTPMailer
from ..otp import EmailOTP, OTPSettings
from ..store import ChallengeStore, open_store
from ._config import ServerConfig
from ._interceptors import AuthInterceptor, CallInterceptor
from ._metrics import Metrics
from ._pb import email_otp_pb2, email_otp_pb2_grpc, face_pb2, face_pb2_grpc, password_pb2, password_pb2_grpc
from ._pool import HeavyPool
from ._services import EmailOtpServicer, FaceServicer, PasswordServicer

__all__ = ["Components", "Sidecar", "create_server", "open_mailer"]

_log = logging.getLogger("verifykit.server")


def open_mailer(spec: str) -> Mailer:
    """``console``, ``file:DIR``, or ``smtp[s]://[user:password@]host[:port][?security=starttls|tls|none]``."""
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
        return SMTPMailer(
            url.hostname,
            port or (465 if url.scheme == "smtps" else 587),
            security=security,  # type: ignore[arg-type]  # SMTPMailer validates it
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
    """Parts a caller may supply instead of building them from the configuration (tests, embedding)."""

    store: ChallengeStore | None = None
    keyring: Keyring | None = None
    mailer: Mailer | None = None
    audit: AuditSink | None = None
    otp_settings: OTPSettings | None = None


class Sidecar:
    """A built server: :meth:`start`, then :meth:`stop` (or :meth:`drain` on SIGTERM)."""

    def __init__(
        self,
        *,
        server: grpc.Server,
        health_servicer: health.HealthServicer,
        services: list[str],
        pool: HeavyPool,
        store: ChallengeStore,
        metrics: Metrics | None,
        config: ServerConfig,
    ) -> None:
        self.grpc_server = server
        self.health = health_servicer
        self.services = services
        self.pool = pool
        self.store = store
        self.metrics = metrics
        self.config = config
        self.metrics_port: int | None = None
        self.on_stop: list[Callable[[], None]] = []
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()

    def start(self) -> None:
        if self.metrics is not None and self.config.metrics_port is not None:
            self.metrics_port = self.metrics.serve(self.config.metrics_host, self.config.metrics_port)
        self.grpc_server.start()
        for name in ["", *self.services]:
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace: float | None = None) -> None:
        """Go NOT_SERVING, refuse new calls, let in-flight calls finish within ``grace`` seconds,
        then release the pool, the store and the metrics port. Safe to call twice."""
        with self._stop_lock:
            if self._stopped.is_set():
                return
            self.health.enter_graceful_shutdown()
            self.grpc_server.stop(self.config.grace if grace is None else grace).wait()
            for hook in self.on_stop:
                try:
                    hook()
                except Exception:  # a failed save must not keep the store open or the process up
                    _log.exception("a stop step failed")
            self.pool.shutdown()
            self.store.close()
            if self.metrics is not None:
                self.metrics.close()
            self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` has finished; False if ``timeout`` passed first."""
        return self._stopped.wait(timeout)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what} {path}: {exc.strerror}") from exc


def _bind(server: grpc.Server, config: ServerConfig) -> int:
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


def create_server(config: ServerConfig, components: Components | None = None) -> tuple[Sidecar, int]:
    """Build the sidecar and bind its port; call :meth:`Sidecar.start` to serve.

    Returns the sidecar and the port it bound (useful with ``listen="127.0.0.1:0"``).
    """
    parts = components if components is not None else Components()
    # Before anything is opened: a refused mailer must not leave a store connection behind.
    mailer_url = config.mailer_url() if parts.mailer is None else None
    for risk in config.risks(mailer_url):
        _log.warning("insecure setting %s", risk)
    # `is None`, not `or`: an empty Outbox is falsy.
    keyring = parts.keyring if parts.keyring is not None else _keyring(config)
    store = parts.store if parts.store is not None else open_store(config.store, namespace=config.namespace)
    mailer = parts.mailer if parts.mailer is not None else open_mailer(mailer_url or config.mailer)
    audit: AuditSink | None = None  # None: the verifiers skip building events at all
    if parts.audit is not None:
        audit = parts.audit
    elif config.audit_log:
        audit = LoggingAuditSink()
    token = config.bearer_token()
    metrics = Metrics() if config.metrics_port is not None else None

    otp = EmailOTP(
        store=store,
        keyring=keyring,
        mailer=mailer,
        settings=parts.otp_settings if parts.otp_settings is not None else _otp_settings(config),
        audit=audit,
    )
    pool = HeavyPool(config.heavy_workers, config.heavy_slots)
    interceptors: list[grpc.ServerInterceptor] = []
    if token is not None:
        interceptors.append(AuthInterceptor(token))
    interceptors.append(CallInterceptor(keyring=keyring, metrics=metrics, access_log=config.access_log))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="verifykit-grpc"),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            # Never share a port with another process: a second sidecar on the same port must fail.
            ("grpc.so_reuseport", 0),
        ],
    )
    services: list[str] = []
    email_otp_pb2_grpc.add_EmailOtpServiceServicer_to_server(EmailOtpServicer(otp), server)  # type: ignore[no-untyped-call]
    services.append(email_otp_pb2.DESCRIPTOR.services_by_name["EmailOtpService"].full_name)

    shared = _Shared(config, keyring, store, audit, pool)
    password = _password_service(shared)
    if password is not None:
        password_pb2_grpc.add_PasswordServiceServicer_to_server(password, server)  # type: ignore[no-untyped-call]
        services.append(password_pb2.DESCRIPTOR.services_by_name["PasswordService"].full_name)
    face = _face_service(shared)
    stop_hooks: list[Callable[[], None]] = []
    if face is not None:
        face_pb2_grpc.add_FaceServiceServicer_to_server(face[0], server)  # type: ignore[no-untyped-call]
        services.append(face_pb2.DESCRIPTOR.services_by_name["FaceService"].full_name)
        stop_hooks = face[1]
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*services, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
        server,
    )
    try:
        port = _bind(server, config)
    except ConfigurationError:
        pool.shutdown()
        if parts.store is None:
            store.close()
        raise
    sidecar = Sidecar(
        server=server,
        health_servicer=health_servicer,
        services=services,
        pool=pool,
        store=store,
        metrics=metrics,
        config=config,
    )
    sidecar.on_stop.extend(stop_hooks)
    return sidecar, port


@dataclass(frozen=True, slots=True)
class _Shared:
    """What every verifier of one sidecar shares."""

    config: ServerConfig
    keyring: Keyring
    store: ChallengeStore
    audit: AuditSink | None
    pool: HeavyPool


def _face_service(shared: _Shared) -> tuple[FaceServicer, list[Callable[[], None]]] | None:
    """The face service, and what to do at stop; None when the face extra is not installed."""
    try:
        from ..face import FaceIndex, FaceSettings, FaceVerifier
    except ImportError as exc:
        _log.warning("face verification is off: the face extra is not installed (%s)", exc.name)
        return None
    config, keyring = shared.config, shared.keyring
    settings = FaceSettings.preset(config.face_preset, expose_scores=config.face_scores)
    # FaceVerifier reads audit=None as "the default sink"; an explicit no-op keeps the log off.
    verifier = FaceVerifier(
        keyring=keyring, store=shared.store, settings=settings, audit=shared.audit or _discard
    )
    path = config.face_index
    audit = shared.audit or _discard
    if path is not None and path.exists():
        index = FaceIndex.load(path, keyring, settings=settings, store=shared.store, audit=audit)
    else:
        index = FaceIndex(keyring, settings=settings, store=shared.store, audit=audit)
    return FaceServicer(verifier, index, shared.pool), ([] if path is None else [lambda: index.save(path)])


def _password_service(shared: _Shared) -> PasswordServicer | None:
    """The password service; None when the password verifier is not available."""
    try:
        from ..password import PasswordVerifier
    except ImportError as exc:
        _log.warning("password verification is off: %s", exc)
        return None
    config = shared.config
    # The service's name is a context word a password may not contain, as in the messages it sends.
    options: dict[str, Any] = {"service_name": _otp_settings(config).service_name}
    if config.password_preset is not None:
        options["preset"] = config.password_preset
    verifier = PasswordVerifier(
        store=shared.store, keyring=shared.keyring, audit=shared.audit or _discard, **options
    )
    return PasswordServicer(verifier, shared.pool)


def _discard(_event: AuditEvent) -> None:
    return None


def _otp_settings(config: ServerConfig) -> OTPSettings:
    settings = OTPSettings()
    if config.sender is not None:
        settings = dataclasses.replace(settings, sender=config.sender)
    if config.service_name is not None:
        settings = dataclasses.replace(settings, service_name=config.service_name)
    return settings
