"""Sidecar configuration: one table of options drives the flags, the ``VERIFYKIT_*`` variables,
the TOML file and the documentation, so they cannot disagree.

Precedence, highest first: command-line flags, environment variables, the TOML file
(``--config`` or ``VERIFYKIT_CONFIG``), built-in defaults. The defaults run with no set-up:
127.0.0.1:50051, the memory store, codes printed by the console mailer.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._errors import ConfigurationError
from .._wire import is_loopback_host
from ..auditlog import AuditLogSettings, anchor_from_url
from ..otp import OTPSettings
from ..store import parse_store_url

if TYPE_CHECKING:
    from ..passkey import PasskeySettings

__all__ = ["OPTIONS", "Option", "ServerConfig", "load_config", "mask_password"]

ENV_PREFIX = "VERIFYKIT_"
CONFIG_ENV = "VERIFYKIT_CONFIG"
MiB = 1024 * 1024
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _cpus() -> int:
    return max(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1), 1)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything ``verifykit serve`` can be told. Validated once, here.

    ``port 0`` in ``listen`` binds a free port (tests); :func:`create_server` reports which.
    ``keys`` is a keyring string (``tag:base64,kid:base64,…``: the tag key, then sealing keys
    newest last; see :class:`~verifykit.Keyring`); without one the sidecar makes
    a throw-away key, which only a memory store may use: sidecars sharing Redis must share keys
    or their challenge ids and subject tags would not match.

    Safe by default: plaintext only on loopback unless ``insecure_plaintext`` (the metrics port:
    ``insecure_metrics_plaintext``), never a token over plaintext beyond loopback, and mailers
    that write codes where this host can read them (console, file) only with the memory store
    unless ``insecure_dev_mailer``. The ``*_file`` twins read a secret from a file, so it never
    has to appear on a command line; ``repr`` masks every secret.
    """

    listen: str = "127.0.0.1:50051"
    store: str = "memory://"
    namespace: str = "vk"
    keys: str | None = None
    keys_file: Path | None = None
    mailer: str = "console"
    mailer_file: Path | None = None
    insecure_dev_mailer: bool = False
    sender: str | None = None
    service_name: str | None = None
    otp_ttl: float | None = None
    otp_live_sends: int | None = None
    otp_time_zone: str | None = None
    otp_max_attempts: int | None = None
    otp_digits: int | None = None
    otp_locale: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    token: str | None = None
    token_file: Path | None = None
    insecure_plaintext: bool = False
    max_message_bytes: int = 16 * MiB
    max_request_bytes: int = 64 * 1024
    max_concurrent_rpcs: int = 256
    max_streams_per_connection: int = 1024
    health_reads: int = 1
    http2_bdp_probe: bool = False
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    insecure_metrics_plaintext: bool = False
    grace: float = 10.0
    workers: int = dataclasses.field(default_factory=lambda: max(32, 3 * _cpus() + 16))
    heavy_workers: int | None = None
    heavy_queue: int | None = None
    password_preset: str | None = None
    face_preset: str = "standard"
    face_index: Path | None = None
    face_scores: bool = False
    face_workers: str = "process"
    face_worker_memory: int | None = None
    face_worker_cpu_seconds: int = 5
    access_log: bool = True
    audit_log: bool = True
    audit_file: Path | None = None
    audit_key: str | None = None
    audit_key_file: Path | None = None
    audit_checkpoint_records: int = 100
    audit_checkpoint_seconds: float = 10.0
    audit_fsync: str = "record"
    audit_anchor: str | None = None
    officers_file: Path | None = None
    voucher_four_eyes: bool = False
    passkey_rp_id: str | None = None
    passkey_rp_name: str | None = None
    passkey_origins: str | None = None
    passkey_attestation_roots: str | None = None
    lockout_hard_cap: int | None = None
    processes: int | None = None
    log_level: str = "info"

    def __post_init__(self) -> None:
        host, _, port = self.listen.rpartition(":")
        # isdigit alone accepts other scripts' digits and superscripts, which int() refuses.
        if not host or not (port.isascii() and port.isdigit()) or int(port) > 65535:
            raise ConfigurationError(f"listen must be HOST:PORT, got {self.listen!r}")
        self._check_store()
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigurationError("TLS needs both tls_cert and tls_key")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ConfigurationError("mutual TLS (tls_client_ca) needs tls_cert and tls_key too")
        self._check_credentials()
        if not 1024 <= self.max_message_bytes <= 1024 * MiB:
            raise ConfigurationError("max_message_bytes must be between 1 KiB and 1 GiB")
        self._check_bounds()
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ConfigurationError("metrics_port must be between 0 and 65535")
        self._check_metrics_listener()
        if self.grace < 0:
            raise ConfigurationError("grace must not be negative")
        if self.workers < 1 or (self.heavy_workers is not None and self.heavy_workers < 1):
            raise ConfigurationError("workers and heavy_workers must be at least 1")
        self._check_processes()
        if self.heavy_queue is not None and self.heavy_queue < 0:
            raise ConfigurationError("heavy_queue must not be negative")
        self._check_face_workers()
        if self.log_level.lower() not in {"debug", "info", "warning", "error"}:
            raise ConfigurationError("log_level must be debug, info, warning or error")
        self.audit_settings()  # checked once, here
        self.otp_settings()  # so a bad otp_* value stops the start, not the first send
        if self.officers_file is not None and self.audit_file is None:
            # A redemption clears lockouts: it must be on the tamper-evident record first.
            raise ConfigurationError(
                "officers_file (counter vouchers) needs audit_file: every redemption is written to "
                "the audit log before it takes effect"
            )
        if self.lockout_hard_cap is not None and not 1 <= self.lockout_hard_cap <= 100:
            raise ConfigurationError("lockout_hard_cap must be between 1 and 100 (NIST SP 800-63B)")
        self._check_passkeys()

    def _check_passkeys(self) -> None:
        """The relying party, checked by the library's own ``PasskeySettings`` rules at start (the
        attestation root files are read when the sidecar is built)."""
        if self.passkey_rp_id is None:
            others = ("passkey_rp_name", "passkey_origins", "passkey_attestation_roots")
            given = [name for name in others if getattr(self, name) is not None]
            if given:
                raise ConfigurationError(f"{given[0]} needs passkey_rp_id (the domain passkeys are bound to)")
            return
        self.passkey_settings(read_roots=False)

    def _check_store(self) -> None:
        """The store URL, checked whole before anything connects: the library's own rules, so
        the sidecar refuses exactly what ``open_store`` would, at start."""
        try:
            parse_store_url(self.store)
        except ConfigurationError as exc:
            raise ConfigurationError(f"store: {exc.message}") from None

    def _check_processes(self) -> None:
        if self.processes is None:
            return
        if not 1 <= self.processes <= 1024:
            raise ConfigurationError("processes must be between 1 and 1024")
        if self.processes > 1 and self.store.startswith("memory:"):
            # Each process would keep a store of its own: a code sent by one would be unknown to
            # the next, and every attempt and send limit would be multiplied by the process count.
            raise ConfigurationError(
                f"processes {self.processes} needs a shared store: with memory:// each server "
                "process would hold a store of its own and no limit would hold across them; set "
                "store to redis://… (or serve one process)"
            )

    def _check_face_workers(self) -> None:
        if self.face_workers not in {"thread", "process"}:
            raise ConfigurationError("face_workers must be thread or process")
        if self.face_worker_memory is not None and self.face_worker_memory < 16 * MiB:
            raise ConfigurationError("face_worker_memory must be at least 16 MiB")
        if not 1 <= self.face_worker_cpu_seconds <= 3600:
            raise ConfigurationError("face_worker_cpu_seconds must be between 1 and 3600")

    def _check_credentials(self) -> None:
        if self.token is not None and self.token_file is not None:
            raise ConfigurationError("give token or token_file, not both")
        if self.token is not None and len(self.token) < 16:
            raise ConfigurationError("token must be at least 16 characters")
        if self.keys is not None and self.keys_file is not None:
            raise ConfigurationError("give keys or keys_file, not both")
        if self.audit_key is not None and self.audit_key_file is not None:
            raise ConfigurationError("give audit_key or audit_key_file, not both")
        if self.audit_file is not None and self.audit_key is None and self.audit_key_file is None:
            raise ConfigurationError(
                "audit_file needs the key that signs its checkpoints: audit_key_file (or "
                "VERIFYKIT_AUDIT_KEY); make one with: verifykit audit keygen --private FILE --public FILE"
            )
        if self.tls_cert is not None or is_loopback_host(self.host):
            return
        if self.token is not None or self.token_file is not None:
            # The switch cannot cover this: anyone on the path would read the token and reuse it.
            raise ConfigurationError(
                f"a bearer token must not cross the network in clear text: serve TLS "
                f"(tls_cert, tls_key) to listen on {self.host}, or listen on 127.0.0.1"
            )
        if not self.insecure_plaintext:
            raise ConfigurationError(
                f"listening on {self.host} without TLS would expose codes, passwords and photos to "
                "the network: set tls_cert and tls_key, listen on 127.0.0.1, or set "
                "insecure_plaintext (only where the network itself encrypts, e.g. a service mesh)"
            )

    def _check_bounds(self) -> None:
        """What one caller can make the sidecar hold: request sizes, calls and streams at once."""
        # Above max_message_bytes it changes nothing: gRPC refuses such a request first.
        if not 1024 <= self.max_request_bytes <= 1024 * MiB:
            raise ConfigurationError("max_request_bytes must be between 1 KiB and 1 GiB")
        if self.max_concurrent_rpcs < 1 or self.max_streams_per_connection < 1:
            raise ConfigurationError("max_concurrent_rpcs and max_streams_per_connection must be at least 1")
        if not 1 <= self.health_reads <= 64:
            raise ConfigurationError("health_reads must be between 1 and 64")

    def _check_metrics_listener(self) -> None:
        """The gRPC port's rule, for the metrics port (which has no TLS): loopback, or a switch.

        Metrics hold no secrets, but call counts, failure and refusal rates and latencies show
        traffic patterns, and a lockout or token-guessing wave as it happens. A switch of its own,
        so letting a scraper in never loosens the gRPC port, nor the reverse.
        """
        if self.metrics_port is None or is_loopback_host(self.metrics_host):
            return
        if not self.insecure_metrics_plaintext:
            raise ConfigurationError(
                f"serving metrics on {self.metrics_host} would show traffic and refusal counts to "
                "the network in plaintext: set metrics_host to 127.0.0.1 (and scrape through a local "
                "agent), or set insecure_metrics_plaintext where the network is trusted or encrypts"
            )

    def __repr__(self) -> str:
        shown = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None and field.name in _SECRET_VALUES:
                value = "***"
            elif isinstance(value, str) and field.name in _PASSWORD_URLS:
                value = mask_password(value)
            shown.append(f"{field.name}={value!r}")
        return f"ServerConfig({', '.join(shown)})"

    @property
    def process_count(self) -> int:
        """Server processes ``verifykit serve`` runs: ``processes``, else one for the memory
        store (which one process must hold) and one per core for a shared store."""
        if self.processes is not None:
            return self.processes
        return 1 if self.store.startswith("memory:") else _cpus()

    @property
    def heavy_worker_count(self) -> int:
        """Threads (or face worker processes) for CPU-heavy work: ``heavy_workers``, else one
        per core. ``verifykit serve`` with several processes gives each its share of the cores."""
        return self.heavy_workers if self.heavy_workers is not None else _cpus()

    @property
    def heavy_slots(self) -> int:
        """CPU-heavy calls admitted at once (running plus waiting); more are refused as busy."""
        heavy = self.heavy_worker_count
        return heavy + (self.heavy_queue if self.heavy_queue is not None else 2 * heavy)

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    def bearer_token(self) -> str | None:
        if self.token_file is not None:
            try:
                token = self.token_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigurationError(f"cannot read token_file: {exc.strerror}") from exc
            if len(token) < 16:
                raise ConfigurationError("the token in token_file must be at least 16 characters")
            return token
        return self.token

    def keyring_string(self) -> str | None:
        """``keys``, or the content of ``keys_file``; None when neither is set."""
        if self.keys_file is not None:
            return _read_secret(self.keys_file, "keys_file")
        return self.keys

    def audit_settings(self) -> AuditLogSettings:
        """The audit log's checkpoint and flush settings."""
        if self.audit_fsync not in {"record", "checkpoint"}:
            raise ConfigurationError("audit_fsync must be record or checkpoint")
        if self.audit_anchor is not None:
            if self.audit_file is None:
                raise ConfigurationError("audit_anchor needs audit_file: it keeps that log's checkpoints")
            anchor_from_url(self.audit_anchor).close()  # a bad URL stops the start
        return AuditLogSettings(
            checkpoint_records=self.audit_checkpoint_records,
            checkpoint_seconds=self.audit_checkpoint_seconds,
            fsync="record" if self.audit_fsync == "record" else "checkpoint",
        )

    def otp_settings(self) -> OTPSettings:
        """The email OTP settings: the library's defaults, with the options given here.

        :class:`~verifykit.otp.OTPSettings` holds the rules; each option is first tried alone
        against the defaults, so a refusal names the option that broke one.
        """
        given: dict[str, Any] = {}
        for option, field in _OTP_FIELDS.items():
            value = getattr(self, option)
            if value is None:
                continue
            try:
                OTPSettings(**{field: value})
            except ConfigurationError as exc:
                raise ConfigurationError(f"{option}: {exc}") from None
            given[field] = value
        try:
            return OTPSettings(**given)
        except ConfigurationError as exc:  # a rule between two of them
            raise ConfigurationError(f"{', '.join(sorted(given))} together: {exc}") from None

    def passkey_settings(self, *, read_roots: bool = True) -> PasskeySettings | None:
        """The relying party passkeys are served for; None when ``passkey_rp_id`` is unset (then
        the sidecar serves no ``PasskeyService``).

        ``passkey_origins`` defaults to ``https://`` + the rp id and ``passkey_rp_name`` to
        ``service_name``, else the rp id. With attestation roots, registrations ask for
        ``direct`` attestation, so that a device-bound key can show it chains to one (AAL3).
        """
        if self.passkey_rp_id is None:
            return None
        from ..passkey import PasskeySettings

        spec = self.passkey_origins if self.passkey_origins is not None else f"https://{self.passkey_rp_id}"
        origins = tuple(origin.strip() for origin in spec.split(",") if origin.strip())
        roots = self._attestation_roots() if read_roots else ()
        try:
            return PasskeySettings(
                rp_id=self.passkey_rp_id,
                rp_name=self.passkey_rp_name or self.service_name or self.passkey_rp_id,
                origins=origins,
                attestation="direct" if roots else "none",
                attestation_roots=roots,
            )
        except ConfigurationError as exc:
            raise ConfigurationError(f"passkey_rp_id, passkey_rp_name, passkey_origins: {exc}") from None

    def _attestation_roots(self) -> tuple[bytes, ...]:
        """Every certificate of the ``passkey_attestation_roots`` PEM files, in DER."""
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        found: list[bytes] = []
        for name in (self.passkey_attestation_roots or "").split(","):
            if not name.strip():
                continue
            path = Path(name.strip()).expanduser()
            try:
                certificates = x509.load_pem_x509_certificates(path.read_bytes())
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot read passkey_attestation_roots {path}: {exc.strerror}"
                ) from exc
            except ValueError:
                raise ConfigurationError(
                    f"passkey_attestation_roots {path} holds no PEM certificate"
                ) from None
            found += [certificate.public_bytes(Encoding.DER) for certificate in certificates]
        return tuple(found)

    def audit_signing_key(self) -> str | None:
        """``audit_key``, or the content of ``audit_key_file``; None when neither is set."""
        if self.audit_key_file is not None:
            return _read_secret(self.audit_key_file, "audit_key_file")
        return self.audit_key

    def mailer_url(self) -> str:
        """``mailer``, or the content of ``mailer_file``, checked against the store.

        The console and file mailers put every code where anyone on this host can read it; with
        a shared store those codes open real accounts, so they need ``insecure_dev_mailer``.
        """
        spec = self.mailer if self.mailer_file is None else _read_secret(self.mailer_file, "mailer_file")
        if _is_dev_mailer(spec) and not self.store.startswith("memory:") and not self.insecure_dev_mailer:
            raise ConfigurationError(
                "the console and file mailers write every code where this host's users can read "
                "it, so they run only with the memory store: set mailer to smtp://… or smtps://…, "
                "or set insecure_dev_mailer for a development setup on a shared store"
            )
        return spec

    def risks(self, mailer: str | None) -> list[str]:
        """What the ``insecure_*`` switches let through, one sentence each, for warnings at start.

        ``mailer`` is the mailer URL in use (:meth:`mailer_url`), None when an embedder supplies
        its own mailer.
        """
        found: list[str] = []
        if self.tls_cert is None and not is_loopback_host(self.host):
            found.append(
                f"insecure_plaintext: serving plaintext on {self.host}; calls and answers "
                "(codes, passwords, photos) cross the network unencrypted"
            )
        if self.metrics_port is not None and not is_loopback_host(self.metrics_host):
            found.append(
                f"insecure_metrics_plaintext: serving metrics on {self.metrics_host} in plaintext; "
                "anyone who reaches the port sees call, failure and refusal counts"
            )
        if mailer is not None and _is_dev_mailer(mailer) and not self.store.startswith("memory:"):
            found.append(
                "insecure_dev_mailer: codes for a shared store are printed or written to files "
                "on this host; development only"
            )
        return found


# ServerConfig option -> the OTPSettings field it sets (None: the library's default).
_OTP_FIELDS = {
    "sender": "sender",
    "service_name": "service_name",
    "otp_ttl": "ttl",
    "otp_live_sends": "live_sends",
    "otp_time_zone": "time_zone",
    "otp_max_attempts": "max_attempts",
    "otp_digits": "digits",
    "otp_locale": "default_locale",
}
_SECRET_VALUES = frozenset({"token", "keys", "audit_key"})
_PASSWORD_URLS = frozenset({"mailer", "store", "audit_anchor"})


def _is_dev_mailer(spec: str) -> bool:
    return spec == "console" or spec.startswith("file:")


def _read_secret(path: Path, what: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what}: {exc.strerror}") from exc
    if not value:
        raise ConfigurationError(f"{what} is empty")
    return value


def mask_password(url: str) -> str:
    """``url`` with any password (``user:password@`` or ``?password=``) replaced by ``***``;
    a URL too malformed to tell is masked whole."""
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        in_userinfo = parts.password is not None
    except ValueError:
        return "***"
    in_query = any(name == "password" for name, _ in query)
    if not in_userinfo and not in_query:
        return url
    if in_userinfo:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        parts = parts._replace(netloc=f"{userinfo.partition(':')[0]}:***@{hostport}")
    if in_query:
        masked = [(name, "***" if name == "password" else value) for name, value in query]
        parts = parts._replace(query=urlencode(masked, safe="*"))
    return urlunsplit(parts)


@dataclass(frozen=True, slots=True)
class Option:
    """One setting: its flag is ``--name-with-dashes``, its variable ``VERIFYKIT_NAME``.

    A ``secret`` is never taken from a flag (process lists show command lines): only from its
    variable, the TOML file or its ``*_file`` twin. A ``password_url`` may be a flag unless
    the URL carries a password.
    """

    name: str
    kind: type
    help: str
    secret: bool = False
    password_url: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


OPTIONS: tuple[Option, ...] = (
    Option("listen", str, "address to listen on, HOST:PORT (port 0 picks a free one)"),
    Option(
        "store",
        str,
        "challenge store URL: memory://, redis://HOST:PORT/DB, rediss://…, redis+cluster://…",
        password_url=True,
    ),
    Option("namespace", str, "prefix of every store key, so several deployments can share one Redis"),
    Option(
        "keys",
        str,
        "keyring: tag:base64,kid:base64[,kid2:base64…], sealing keys newest last "
        "(needed unless the store is memory://)",
        True,
    ),
    Option("keys_file", Path, "file holding the keyring (instead of keys)"),
    Option(
        "mailer",
        str,
        "console (print messages), file:DIR (one .eml per message), smtp://… or smtps://…",
        password_url=True,
    ),
    Option("mailer_file", Path, "file holding the mailer URL (instead of mailer), e.g. with a password"),
    Option(
        "insecure_dev_mailer",
        bool,
        "allow the console and file mailers with a store other than memory:// (development only)",
    ),
    Option("sender", str, "From: address of one-time-code messages (default: the library's)"),
    Option("service_name", str, "service name shown in messages (default: verifykit)"),
    Option(
        "otp_ttl",
        float,
        "seconds each emailed code stays valid from its own send, at most 86400 (default: 600)",
    ),
    Option(
        "otp_live_sends",
        int,
        "sends of one challenge whose codes are accepted at once, 1 to 5 (default: 2, so a late "
        "first message still works after a resend; 1: a resend retires earlier codes)",
    ),
    Option(
        "otp_time_zone",
        str,
        "IANA time zone (e.g. Asia/Jakarta) in which messages say when their code was requested "
        "(default: UTC)",
    ),
    Option("otp_max_attempts", int, "checks per email OTP challenge, across resends, 1 to 20 (default: 5)"),
    Option("otp_digits", int, "digits of an emailed code, 4 to 10 (default: 6)"),
    Option("otp_locale", str, "language of a message when the caller names none: en or id (default: en)"),
    Option("tls_cert", Path, "PEM certificate chain; serves TLS when given"),
    Option("tls_key", Path, "PEM private key for tls_cert"),
    Option("tls_client_ca", Path, "PEM CA bundle; clients must present a certificate it signed (mutual TLS)"),
    Option("token", str, "shared bearer token every call must carry (authorization: Bearer …)", True),
    Option("token_file", Path, "file holding the bearer token (instead of token)"),
    Option(
        "insecure_plaintext",
        bool,
        "allow plaintext on an address other than loopback, without a token (e.g. inside a service mesh)",
    ),
    Option(
        "max_message_bytes",
        int,
        "largest request or response accepted, in bytes; requests this large only by FaceService",
    ),
    Option(
        "max_request_bytes",
        int,
        "largest request accepted by a method other than FaceService's, in bytes (refused with "
        "RESOURCE_EXHAUSTED before it is parsed)",
    ),
    Option(
        "max_concurrent_rpcs",
        int,
        "calls served at once, all connections together; more are refused with RESOURCE_EXHAUSTED "
        "before their request is read",
    ),
    Option(
        "max_streams_per_connection",
        int,
        "calls one connection may have open at once (HTTP/2 max concurrent streams); a client "
        "queues the rest",
    ),
    Option(
        "health_reads",
        int,
        "with a token: health checks without it whose request is read at once (each may buffer "
        "up to max_message_bytes); more wait",
    ),
    Option(
        "http2_bdp_probe",
        bool,
        "grow HTTP/2 stream windows by bandwidth-delay probes: faster photo uploads over a long "
        "round trip, but then every open stream, unread ones included, may hold megabytes",
    ),
    Option("metrics_port", int, "serve Prometheus metrics on this port (off when unset)"),
    Option(
        "metrics_host", str, "address the metrics port binds (loopback unless insecure_metrics_plaintext)"
    ),
    Option(
        "insecure_metrics_plaintext",
        bool,
        "allow the metrics port (plaintext HTTP) on an address other than loopback, e.g. for a "
        "Prometheus on another host of a trusted network",
    ),
    Option("grace", float, "seconds in-flight calls get to finish after SIGTERM"),
    Option(
        "workers",
        int,
        "threads for blocking I/O beside the event loop: a blocking mailer given in code, the face index "
        "(default: 32, or 3 per CPU + 16 when more)",
    ),
    Option(
        "heavy_workers",
        int,
        "threads (or face worker processes) for CPU-heavy work (argon2, dlib); default: one per CPU, "
        "shared out among the server processes",
    ),
    Option("heavy_queue", int, "heavy calls that may wait for a thread before new ones are refused as busy"),
    Option("password_preset", str, "argon2id preset for new hashes (default: the library's default)"),
    Option(
        "face_preset", str, "face match threshold preset: standard (0.6), strict (0.5) or very_strict (0.4)"
    ),
    Option(
        "face_index",
        Path,
        "sealed file the duplicate-search index is loaded from at start and saved to at stop",
    ),
    Option(
        "face_scores",
        bool,
        "give callers the distance and score of each face verdict (off: approved and reason only, "
        "since exact distances help an attacker tune a photo; the audit log keeps them)",
    ),
    Option(
        "face_workers",
        str,
        "process (default) reads every photo in heavy_workers sandboxed worker processes under "
        "memory and CPU limits, replaced when one breaks a limit or dies; thread reads photos in "
        "the server process itself, unsandboxed and one encoding at a time (dlib holds the GIL)",
    ),
    Option(
        "face_worker_memory",
        int,
        "bytes a face worker may hold above its size once its models are loaded (default: twice "
        "the decoded-bytes bound plus 128 MiB, 512 MiB); a photo needing more is refused "
        "image_too_costly",
    ),
    Option(
        "face_worker_cpu_seconds",
        int,
        "CPU seconds a face worker may spend on one photo; a photo needing more is refused image_too_costly",
    ),
    Option("access_log", bool, "one JSON line per call on stderr"),
    Option("audit_log", bool, "audit events as JSON lines on stderr"),
    Option(
        "audit_file",
        Path,
        "tamper-evident audit log (hash-chained JSON lines, signed checkpoints) every decision is "
        "written to before it takes effect; needs audit_key_file",
    ),
    Option(
        "audit_key",
        str,
        "Ed25519 key signing the audit log's checkpoints (PEM, or base64 of its 32 bytes)",
        True,
    ),
    Option("audit_key_file", Path, "file holding the audit signing key (verifykit audit keygen makes one)"),
    Option("audit_checkpoint_records", int, "records between two signed checkpoints of the audit log"),
    Option(
        "audit_checkpoint_seconds",
        float,
        "seconds at most a record of the audit log stays unsealed before a checkpoint",
    ),
    Option(
        "audit_fsync",
        str,
        "record (flush each audit record to disk before its decision takes effect) or checkpoint "
        "(flush at checkpoints only: faster; a power cut may lose the records since the last one)",
    ),
    Option(
        "audit_anchor",
        str,
        "where every signed checkpoint of the audit log is also kept, to find a log cut back with its "
        "head file: dir:///PATH, redis://HOST:PORT/DB?stream=KEY or syslog://HOST:PORT (syslog:///dev/log); "
        "shipped in the background: an unreachable anchor never fails a decision, it is logged and retried",
    ),
    Option(
        "officers_file",
        Path,
        "officer registry (JSON; verifykit officer add|revoke manages it, re-read when it changes); "
        "serves VoucherService for counter vouchers; needs audit_file",
    ),
    Option("voucher_four_eyes", bool, "a counter voucher needs the signatures of two different officers"),
    Option(
        "passkey_rp_id",
        str,
        "relying party id passkeys are bound to, a domain such as example.com; serves PasskeyService "
        "(unset: passkeys are not served, every PasskeyService call is UNIMPLEMENTED)",
    ),
    Option(
        "passkey_rp_name",
        str,
        "name the browser shows while making a passkey (default: service_name, else the rp id)",
    ),
    Option(
        "passkey_origins",
        str,
        "comma-separated origins allowed to run a passkey ceremony, compared exactly "
        "(default: https:// + passkey_rp_id)",
    ),
    Option(
        "passkey_attestation_roots",
        str,
        "comma-separated PEM files of the attestation roots trusted for AAL3 passkeys (device-bound "
        "hardware keys); given, registrations ask for direct attestation",
    ),
    Option(
        "lockout_hard_cap",
        int,
        "consecutive failures after which a subject stays locked until a success elsewhere or a "
        "counter voucher (default: each verifier's, 100, the most NIST SP 800-63B allows)",
    ),
    Option(
        "processes",
        int,
        "server processes sharing the port (SO_REUSEPORT), supervised by the first; default: one per "
        "CPU with a shared store, 1 with memory:// (which refuses more)",
    ),
    Option("log_level", str, "debug, info, warning or error"),
)
_BY_NAME = {o.name: o for o in OPTIONS}
# A value and its *_file twin are one setting: the higher source's choice wins whichever it gives.
_TWINS = {"token": "token_file", "keys": "keys_file", "mailer": "mailer_file", "audit_key": "audit_key_file"}
_TWINS |= {file: value for value, file in _TWINS.items()}


def _convert(option: Option, value: Any, origin: str) -> Any:
    """Turn a flag, variable or TOML value into the option's type, or say clearly which is wrong."""
    where = f"{option.name} (from {origin})"
    if option.kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ConfigurationError(f"{where} must be true or false")
    if option.kind in (int, float):
        if isinstance(value, bool):
            raise ConfigurationError(f"{where} must be a number")
        try:
            number = option.kind(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
            raise ConfigurationError(f"{where} must be a number") from None
        if not math.isfinite(number):  # TOML and float() both read inf and nan
            raise ConfigurationError(f"{where} must be a finite number")
        if option.kind is int and isinstance(value, float) and not value.is_integer():
            raise ConfigurationError(f"{where} must be a whole number")
        return number
    if not isinstance(value, str):
        raise ConfigurationError(f"{where} must be a string")
    if "\x00" in value:  # TOML can spell one (\u0000); no path, URL or name holds it
        raise ConfigurationError(f"{where} must not contain a NUL character")
    if option.kind is not Path:
        return value
    try:
        return Path(value).expanduser()
    except (ValueError, RuntimeError) as exc:  # ~user that cannot be looked up, or no home
        raise ConfigurationError(f"{where} is not a usable path: {exc}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ConfigurationError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {path} is not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:  # tomllib decodes before it parses; the bytes may be secrets
        raise ConfigurationError(f"config file {path} is not UTF-8 text (at byte {exc.start})") from None
    unknown = sorted(set(data) - set(_BY_NAME))
    if unknown:
        raise ConfigurationError(f"unknown setting(s) in {path}: {', '.join(unknown)}")
    return data


def _refuse_secret_flag(option: Option, value: Any) -> None:
    """Secrets on a command line are readable by every user of the host (``ps``, /proc)."""
    if option.secret:
        what = "its value"
    elif option.password_url and isinstance(value, str) and mask_password(value) != value:
        what = "the password it carries"
    else:
        return
    twin = _BY_NAME.get(f"{option.name}_file")
    instead = f"{option.env}{f', {twin.flag}' if twin else ''} or the config file"
    raise ConfigurationError(f"{option.flag} is not accepted: process lists would show {what}; use {instead}")


def load_config(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> ServerConfig:
    """Merge the sources: ``flags`` (values of None are "not given") over ``environ`` over the file.

    The file is ``config_file`` or the one ``VERIFYKIT_CONFIG`` names; there is none by default.
    ``flags`` are the command line's, so secrets (``token``, ``keys``, a URL with a password)
    are refused there. A value and its ``*_file`` twin count as one setting.
    """
    flags = {name: value for name, value in (flags or {}).items() if value is not None}
    environ = os.environ if environ is None else environ
    unknown = sorted(set(flags) - set(_BY_NAME))
    if unknown:
        raise ConfigurationError(f"unknown setting(s): {', '.join(unknown)}")
    for name, value in flags.items():
        _refuse_secret_flag(_BY_NAME[name], value)
    if config_file is None and environ.get(CONFIG_ENV):
        config_file = Path(environ[CONFIG_ENV]).expanduser()
    values: dict[str, Any] = {}
    sources: list[tuple[str, dict[str, Any]]] = []
    if config_file is not None:
        sources.append((str(config_file), _read_toml(config_file)))
    given = {o.name: environ[o.env] for o in OPTIONS if environ.get(o.env, "") != ""}
    sources += [("environment", given), ("flags", flags)]
    for origin, source in sources:
        for name, value in source.items():
            option = _BY_NAME[name]
            twin = _TWINS.get(name)
            if twin in source:
                raise ConfigurationError(f"give {name} or {twin}, not both (in the {origin})")
            where = option.flag if origin == "flags" else option.env if origin == "environment" else origin
            values[name] = _convert(option, value, where)
            if twin is not None:
                values.pop(twin, None)
    try:
        return ServerConfig(**values)
    except TypeError as exc:  # a value of the wrong type slipped through
        raise ConfigurationError(str(exc)) from None
