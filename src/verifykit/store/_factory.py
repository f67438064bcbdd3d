"""Pick a store backend from its URL; optional drivers load only when asked for.

:func:`parse_store_url` checks a URL whole, before anything connects, for the sync and the
asyncio store alike: a URL it accepts names exactly one server (or cluster, or socket) and
database, with options that apply to its scheme. Its refusals name what is wrong and never
repeat a password.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from .._clock import Clock
from .._errors import ConfigurationError
from ._base import ChallengeStore
from ._cluster import cluster_nodes
from ._memory import MemoryStore
from ._redis import _OPTIONS, _WAIT_OPTIONS, store_options, verified_tls, wait_options

__all__ = ["StoreURL", "backend_for", "failure_cause", "open_store", "parse_store_url"]

Kind = Literal["memory", "redis", "cluster"]

_KINDS: dict[str, Kind] = {
    "memory": "memory",
    "redis": "redis",
    "rediss": "redis",
    "unix": "redis",
    "redis+cluster": "cluster",
    "rediss+cluster": "cluster",
}
_TLS_SCHEMES = {"rediss", "rediss+cluster"}
_DEFAULT_PORT = 6379
# Read from the query by redis-py itself, beside the store options.
_CREDENTIALS = ("username", "password")
_DATABASE = "db"


@dataclass(frozen=True, slots=True)
class StoreURL:
    """A store URL that passed every check: where it points, without user name or password.

    ``nodes`` holds (host, port) pairs (one for ``redis://``, several for a cluster, none for
    ``memory://`` and ``unix://``); ``socket`` is the path of a ``unix://`` socket.
    """

    kind: Kind
    scheme: str
    nodes: tuple[tuple[str, int], ...] = ()
    socket: str | None = None
    db: int = 0

    @property
    def location(self) -> str:
        """Where the store is, for messages and logs: ``host:port`` (comma-separated on a
        cluster), the socket path, or ``memory``."""
        if self.socket is not None:
            return self.socket
        if not self.nodes:
            return "memory"
        return ",".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in self.nodes)


def parse_store_url(url: str, options: Mapping[str, Any] | None = None) -> StoreURL:
    """Check a store URL and the keyword ``options`` given with it; raise
    :class:`~verifykit.ConfigurationError` naming the first thing wrong.

    Refused: an unknown scheme; a host, path or option on ``memory://``; an empty host, a port
    that is not a number from 1 to 65535, a database that is not a whole number from 0; a
    database given twice; on a cluster any database but 0, or credentials in the query; an
    unknown option, an option of another scheme (``ssl_*`` without ``rediss``) or a malformed
    value; a ``#fragment``.
    """
    options = dict(options or {})
    if not isinstance(url, str):
        raise ConfigurationError("the store URL must be a string")
    try:
        parts = urlsplit(url)
    except ValueError:  # its message may quote the URL, and with it a password
        raise ConfigurationError("the store URL is malformed") from None
    scheme = parts.scheme.lower()
    kind = _KINDS.get(scheme)
    if kind is None:
        raise ConfigurationError(
            f"unknown store URL scheme {scheme!r}: use memory://, redis://, rediss:// or redis+cluster://"
        )
    _, at, hostport = parts.netloc.rpartition("@")
    if not at and "@" in url.partition("://")[2]:
        # urlsplit ends the host at the first '/', '?' or '#': one in a password leaves its tail,
        # '@' included, in the path or query, where a message below might repeat it.
        raise ConfigurationError(
            "the store URL has an '@' after its host: write a user name or password containing "
            "'/', '?', '#' or '@' percent-encoded (%2F, %3F, %23, %40)"
        )
    if parts.fragment:
        raise ConfigurationError(f"a store URL has no #fragment; {scheme}:// takes options as ?name=value")
    query = _query(parts.query)
    if kind == "memory":
        if parts.netloc or parts.path not in ("", "/") or query or options:
            raise ConfigurationError(
                "memory:// takes no host, path or options: it lives in this process; "
                "options such as socket_timeout apply to the Redis stores"
            )
        return StoreURL("memory", scheme)
    _check_options(scheme, query, options)
    if scheme == "unix":
        return _unix(scheme, hostport, parts.path, query)
    if kind == "cluster":
        return _cluster(url, scheme, hostport, parts.path, query)
    host, port = _host_port(scheme, hostport)
    return StoreURL("redis", scheme, nodes=((host, port),), db=_database(scheme, parts.path, query))


def _query(text: str) -> list[tuple[str, str]]:
    if not text:
        return []
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:  # its message quotes the field
        raise ConfigurationError(
            "the store URL's query is malformed: expected ?name=value&name=value"
        ) from None


def _check_options(scheme: str, query: list[tuple[str, str]], options: Mapping[str, Any]) -> None:
    """Every option, from the query or a keyword, known, for this scheme, and well-formed."""
    known = set(_OPTIONS) | set(_WAIT_OPTIONS)
    in_url = {name for name, _ in query} - {_DATABASE, *_CREDENTIALS}
    unknown = sorted((in_url | set(options)) - known)
    if unknown:
        allowed = sorted(n for n in known if scheme in _TLS_SCHEMES or not n.startswith("ssl_"))
        raise ConfigurationError(
            f"unknown store option(s) {', '.join(unknown)} for {scheme}://; known: {', '.join(allowed)}"
        )
    tls_only = sorted(n for n in in_url | set(options) if n.startswith("ssl_"))
    if tls_only and scheme not in _TLS_SCHEMES:
        raise ConfigurationError(
            f"store option(s) {', '.join(tls_only)} apply only to TLS: use a rediss:// "
            f"or rediss+cluster:// URL, or drop them"
        )
    merged: dict[str, Any] = {name: value for name, value in query if name in in_url}
    merged.update(options)
    checked = store_options(merged)
    wait_options(merged, checked["socket_timeout"])
    if scheme in _TLS_SCHEMES:
        verified_tls(checked)


def _host_port(scheme: str, hostport: str) -> tuple[str, int]:
    if hostport.startswith("["):  # [IPv6]:port
        host, bracket, rest = hostport[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ConfigurationError(
                f"the {scheme}:// URL's host is malformed: write an IPv6 address as [::1]"
            )
        port_text = rest[1:]
    else:
        host, _, port_text = hostport.partition(":")
    if not host:
        raise ConfigurationError(f"the {scheme}:// URL names no host: {scheme}://HOST:PORT/DB")
    if not port_text:
        return host, _DEFAULT_PORT
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise ConfigurationError(f"the {scheme}:// URL's port must be a number from 1 to 65535")
    return host, int(port_text)


def _database(scheme: str, path: str, query: list[tuple[str, str]]) -> int:
    """The database: the path's /N or the query's db=N, not both; a whole number, 0 or more."""
    in_path = path[1:] if path.startswith("/") else path
    in_query = [value for name, value in query if name == _DATABASE]
    if len(in_query) + bool(in_path) > 1:
        raise ConfigurationError("the database is given more than once (/DB, ?db=); give it once")
    if not in_query and not in_path:
        return 0
    text = in_query[0] if in_query else in_path
    if not (text.isascii() and text.isdigit()):
        where = "?db=" if in_query else "the path after HOST:PORT"
        form = "unix:///path/to/redis.sock?db=DB" if scheme == "unix" else f"{scheme}://HOST:PORT/DB"
        raise ConfigurationError(
            f"the database number ({where}) must be a whole number, 0 or more, got {text!r}: {form}"
        )
    return int(text)


def _unix(scheme: str, hostport: str, path: str, query: list[tuple[str, str]]) -> StoreURL:
    if hostport:
        raise ConfigurationError(
            "unix:// names a socket path, not a host: unix:///path/to/redis.sock (three slashes)"
        )
    if path in ("", "/"):
        raise ConfigurationError("unix:// needs the socket's path: unix:///path/to/redis.sock?db=0")
    return StoreURL("redis", scheme, socket=unquote(path), db=_database(scheme, "", query))


def _cluster(url: str, scheme: str, hostport: str, path: str, query: list[tuple[str, str]]) -> StoreURL:
    if not hostport:
        raise ConfigurationError(f"the {scheme}:// URL names no node: {scheme}://HOST:PORT[,HOST:PORT…]")
    credentials = sorted({name for name, _ in query if name in _CREDENTIALS})
    if credentials:
        raise ConfigurationError(
            f"a cluster URL takes {' and '.join(credentials)} before its nodes, not in the query: "
            f"{scheme}://USER:PASSWORD@HOST:PORT"
        )
    if _database(scheme, path, query) != 0:
        raise ConfigurationError("Redis Cluster has only database 0: drop the /DB (or ?db=) from the URL")
    nodes, _, _ = cluster_nodes(url)
    return StoreURL("cluster", scheme, nodes=tuple(nodes))


def failure_cause(url: str, exc: BaseException) -> str:
    """Why a store did not answer, for a log line: the error's type and its message, with any
    password the URL carries masked."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    try:
        parts = urlsplit(url)
        secrets = [unquote(parts.password or ""), parts.password or ""]
        secrets += [value for name, value in parse_qsl(parts.query) if name == "password"]
    except ValueError:
        return type(exc).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def backend_for(
    url: str, *, namespace: str, clock: Clock | None, options: Mapping[str, Any] | None = None
) -> Kind:
    """Which backend a URL names, after checking what every flavour of store refuses alike."""
    if not namespace or "{" in namespace or "}" in namespace:
        raise ConfigurationError("namespace must be non-empty and free of '{' and '}'")
    kind = parse_store_url(url, options).kind
    if clock is not None and kind != "memory":
        raise ConfigurationError("Redis stores use the server's clock (TIME); a clock cannot be injected")
    return kind


def open_store(
    url: str = "memory://",
    *,
    namespace: str = "vk",
    clock: Clock | None = None,
    **options: Any,
) -> ChallengeStore:
    """Open the store a URL names.

    ``options`` go to the Redis backends: ``socket_timeout`` (seconds, default 1.0),
    ``socket_connect_timeout`` (default: the socket timeout), ``max_connections`` (default 64),
    ``health_check_interval`` (seconds, default 0: off), ``client_name`` and, for ``rediss``,
    ``ssl_ca_certs``/``ssl_certfile``/``ssl_keyfile`` (``ssl_cert_reqs`` and
    ``ssl_check_hostname`` only at their verifying values, ``required`` and true: anything
    weaker is a :class:`~verifykit.ConfigurationError`). The same options may come as URL
    query parameters, e.g. ``redis://localhost:6379/0?socket_timeout=0.5``. The URL and the
    options are checked whole first (:func:`parse_store_url`); nothing connects until the
    first operation. :func:`verifykit.aio.open_store` takes the same URLs and options.
    """
    kind = backend_for(url, namespace=namespace, clock=clock, options=options)
    if kind == "memory":
        return MemoryStore(namespace=namespace, clock=clock)
    # The Redis modules import the driver only when a store is made (it is an extra).
    from ._cluster import RedisClusterStore
    from ._redis import RedisStore

    flavour = RedisClusterStore if kind == "cluster" else RedisStore
    return flavour(url, namespace=namespace, **options)
