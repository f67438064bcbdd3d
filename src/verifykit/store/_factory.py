"""Pick a store backend from its URL; optional drivers load only when asked for."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from .._clock import Clock
from .._errors import ConfigurationError
from ._base import ChallengeStore
from ._memory import MemoryStore

__all__ = ["backend_for", "open_store"]

_REDIS_SCHEMES = {"redis", "rediss", "unix"}
_CLUSTER_SCHEMES = {"redis+cluster", "rediss+cluster"}


def backend_for(url: str, *, namespace: str, clock: Clock | None) -> Literal["memory", "redis", "cluster"]:
    """Which backend a URL names, after checking what every flavour of store refuses alike."""
    if not namespace or "{" in namespace or "}" in namespace:
        raise ConfigurationError("namespace must be non-empty and free of '{' and '}'")
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return "memory"
    if clock is not None and scheme in _REDIS_SCHEMES | _CLUSTER_SCHEMES:
        raise ConfigurationError("Redis stores use the server's clock (TIME); a clock cannot be injected")
    if scheme in _REDIS_SCHEMES:
        return "redis"
    if scheme in _CLUSTER_SCHEMES:
        return "cluster"
    raise ConfigurationError(
        f"unknown store URL scheme {scheme!r}: use memory://, redis://, rediss:// or redis+cluster://"
    )


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
    query parameters, e.g. ``redis://localhost:6379/0?socket_timeout=0.5``.
    :func:`verifykit.aio.open_store` takes the same URLs and options.
    """
    kind = backend_for(url, namespace=namespace, clock=clock)
    if kind == "memory":
        return MemoryStore(namespace=namespace, clock=clock)
    # The Redis modules import the driver only when a store is made (it is an extra).
    from ._cluster import RedisClusterStore
    from ._redis import RedisStore

    flavour = RedisClusterStore if kind == "cluster" else RedisStore
    return flavour(url, namespace=namespace, **options)
