"""Sidecar configuration: one table of options drives the flags, the ``VERIFYKIT_*`` variables,
the TOML file and the documentation, so they cannot disagree.

Precedence, highest first: command-line flags, environment variables, the TOML file
(``--config`` or ``VERIFYKIT_CONFIG``), built-in defaults. The defaults run with no set-up:
127.0.0.1:50051, the memory store, codes printed by the console mailer.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError

__all__ = ["OPTIONS", "Option", "ServerConfig", "load_config"]

PROTO_ROOT = Path(__file__).resolve().parent / "proto"
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
    ``keys`` is a keyring string (``kid:base64,…``, newest last); without one the sidecar makes
    a throw-away key, which only a memory store may use: sidecars sharing Redis must share keys
    or their challenge ids and subject tags would not match.
    """

    listen: str = "127.0.0.1:50051"
    store: str = "memory://"
    namespace: str = "vk"
    keys: str | None = None
    mailer: str = "console"
    sender: str | None = None
    service_name: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    token: str | None = None
    token_file: Path | None = None
    max_message_bytes: int = 16 * MiB
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    grace: float = 10.0
    workers: int = dataclasses.field(default_factory=lambda: max(32, 3 * _cpus() + 16))
    heavy_workers: int = dataclasses.field(default_factory=_cpus)
    heavy_queue: int | None = None
    password_preset: str | None = None
    face_preset: str = "standard"
    face_index: Path | None = None
    access_log: bool = True
    audit_log: bool = True
    log_level: str = "info"

    def __post_init__(self) -> None:
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit() or int(port) > 65535:
            raise ConfigurationError(f"listen must be HOST:PORT, got {self.listen!r}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigurationError("TLS needs both tls_cert and tls_key")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ConfigurationError("mutual TLS (tls_client_ca) needs tls_cert and tls_key too")
        if self.token is not None and self.token_file is not None:
            raise ConfigurationError("give token or token_file, not both")
        if self.token is not None and len(self.token) < 16:
            raise ConfigurationError("token must be at least 16 characters")
        if not 1024 <= self.max_message_bytes <= 1024 * MiB:
            raise ConfigurationError("max_message_bytes must be between 1 KiB and 1 GiB")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ConfigurationError("metrics_port must be between 0 and 65535")
        if self.grace < 0:
            raise ConfigurationError("grace must not be negative")
        if self.heavy_workers < 1 or self.workers < 2:
            raise ConfigurationError("workers must be at least 2 and heavy_workers at least 1")
        if self.heavy_slots >= self.workers:
            # Heavy calls hold a handler thread while they wait; some must stay free for OTP.
            raise ConfigurationError(
                f"heavy_workers + heavy_queue ({self.heavy_slots}) must be fewer than "
                f"workers ({self.workers})"
            )
        if self.log_level.lower() not in {"debug", "info", "warning", "error"}:
            raise ConfigurationError("log_level must be debug, info, warning or error")

    @property
    def heavy_slots(self) -> int:
        """CPU-heavy calls admitted at once (running plus waiting); more are refused as busy."""
        queue = self.heavy_queue if self.heavy_queue is not None else 2 * self.heavy_workers
        return self.heavy_workers + queue

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


@dataclass(frozen=True, slots=True)
class Option:
    """One setting: its flag is ``--name-with-dashes``, its variable ``VERIFYKIT_NAME``."""

    name: str
    kind: type
    help: str
    secret: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


OPTIONS: tuple[Option, ...] = (
    Option("listen", str, "address to listen on, HOST:PORT (port 0 picks a free one)"),
    Option(
        "store", str, "challenge store URL: memory://, redis://HOST:PORT/DB, rediss://…, redis+cluster://…"
    ),
    Option("namespace", str, "prefix of every store key, so several deployments can share one Redis"),
    Option(
        "keys",
        str,
        "keyring: kid:base64[,kid2:base64…], newest last (needed unless the store is memory://)",
        True,
    ),
    Option("mailer", str, "console (print messages), file:DIR (one .eml per message), smtp://… or smtps://…"),
    Option("sender", str, "From: address of one-time-code messages (default: the library's)"),
    Option("service_name", str, "service name shown in messages (default: verifykit)"),
    Option("tls_cert", Path, "PEM certificate chain; serves TLS when given"),
    Option("tls_key", Path, "PEM private key for tls_cert"),
    Option("tls_client_ca", Path, "PEM CA bundle; clients must present a certificate it signed (mutual TLS)"),
    Option("token", str, "shared bearer token every call must carry (authorization: Bearer …)", True),
    Option("token_file", Path, "file holding the bearer token (instead of token)"),
    Option("max_message_bytes", int, "largest request or response accepted, in bytes"),
    Option("metrics_port", int, "serve Prometheus metrics on this port (off when unset)"),
    Option("metrics_host", str, "address the metrics port binds"),
    Option("grace", float, "seconds in-flight calls get to finish after SIGTERM"),
    Option("workers", int, "threads serving calls (default: 32, or 3 per CPU + 16 when more)"),
    Option("heavy_workers", int, "threads for CPU-heavy work (argon2, dlib); default: one per CPU"),
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
    Option("access_log", bool, "one JSON line per call on stderr"),
    Option("audit_log", bool, "audit events as JSON lines on stderr"),
    Option("log_level", str, "debug, info, warning or error"),
)
_BY_NAME = {o.name: o for o in OPTIONS}


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
        except (TypeError, ValueError):
            raise ConfigurationError(f"{where} must be a number") from None
        if option.kind is int and isinstance(value, float) and not value.is_integer():
            raise ConfigurationError(f"{where} must be a whole number")
        return number
    if not isinstance(value, str):
        raise ConfigurationError(f"{where} must be a string")
    return Path(value).expanduser() if option.kind is Path else value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ConfigurationError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - set(_BY_NAME))
    if unknown:
        raise ConfigurationError(f"unknown setting(s) in {path}: {', '.join(unknown)}")
    return data


def load_config(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> ServerConfig:
    """Merge the sources: ``flags`` (values of None are "not given") over ``environ`` over the file.

    The file is ``config_file`` or the one ``VERIFYKIT_CONFIG`` names; there is none by default.
    """
    flags = flags or {}
    environ = os.environ if environ is None else environ
    unknown = sorted(set(flags) - set(_BY_NAME))
    if unknown:
        raise ConfigurationError(f"unknown setting(s): {', '.join(unknown)}")
    if config_file is None and environ.get(CONFIG_ENV):
        config_file = Path(environ[CONFIG_ENV]).expanduser()
    values: dict[str, Any] = {}
    if config_file is not None:
        for name, value in _read_toml(config_file).items():
            values[name] = _convert(_BY_NAME[name], value, str(config_file))
    for option in OPTIONS:
        raw = environ.get(option.env)
        if raw is not None and raw != "":
            values[option.name] = _convert(option, raw, option.env)
    for name, value in flags.items():
        if value is not None:
            values[name] = _convert(_BY_NAME[name], value, _BY_NAME[name].flag)
    try:
        return ServerConfig(**values)
    except TypeError as exc:  # a value of the wrong type slipped through
        raise ConfigurationError(str(exc)) from None
