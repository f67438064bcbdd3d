"""``redis+cluster://host:port[,host:port…]`` (and ``rediss+cluster://``): Redis Cluster.

The same scripts, keys and requests as :class:`~verifykit.store._redis.RedisStore`; only
construction differs (:class:`ClusterBase`, shared with the asyncio flavour). Every script's
keys share one hash tag, so each runs on the master owning that slot; redis-py routes EVALSHA
by its first key and, on NOSCRIPT from a node that has not seen the script yet, the store
loads it on every master and retries.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from .._errors import ConfigurationError
from ._base import ChallengeStore, NewChallenge, Opened, WindowPolicy
from ._redis import RedisBase, RedisStore, Request, hash_tag
from ._rules import check_new_challenge

__all__ = [
    "ClusterBase",
    "RedisClusterStore",
    "Step",
    "cluster_nodes",
    "drive_steps",
    "drive_steps_async",
    "open_in_steps",
]

_DEFAULT_PORT = 6379


def cluster_nodes(url: str) -> tuple[list[tuple[str, int]], str | None, str | None]:
    """The startup nodes, user name and password of a cluster URL."""
    netloc = urlsplit(url).netloc
    user: str | None = None
    password: str | None = None
    if "@" in netloc:
        credentials, netloc = netloc.rsplit("@", 1)
        name, _, secret = credentials.partition(":")
        user, password = unquote(name) or None, unquote(secret) or None
    nodes: list[tuple[str, int]] = []
    for item in netloc.split(","):
        host, port = _host_port(item.strip())
        nodes.append((host, port))
    if not nodes:
        raise ConfigurationError("a Redis Cluster URL needs at least one host:port")
    return nodes, user, password


def _host_port(item: str) -> tuple[str, int]:
    if item.startswith("["):  # [IPv6]:port
        host, _, rest = item[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = item.partition(":")
    if not host:
        raise ConfigurationError(f"bad Redis Cluster node {item!r}: expected host:port")
    try:
        port = int(port_text) if port_text else _DEFAULT_PORT
    except ValueError:
        raise ConfigurationError(f"bad Redis Cluster node {item!r}: the port must be a number") from None
    if not 0 < port < 65536:
        raise ConfigurationError(f"bad Redis Cluster node {item!r}: port out of range")
    return host, port


#: One store operation of :func:`open_in_steps`: the method's name and its arguments.
Step = tuple[str, tuple[Any, ...], dict[str, Any]]


def open_in_steps(
    new: NewChallenge,
    *,
    retention: float,
    lockout_key: str | None,
    limits: Sequence[tuple[str, WindowPolicy]],
) -> Generator[Step, Any, Opened]:
    """:meth:`ChallengeStore.open` as the separate operations it stands for, one after another:
    for a store whose keys cannot all meet in one atomic step (a Redis Cluster). It yields each
    operation and is sent its answer, so both flavours drive the one sequence (:func:`drive_steps`,
    and the asyncio store's own loop)."""
    check_new_challenge(new, retention)
    if lockout_key is not None:
        state = yield ("failure_state", (lockout_key,), {})
        if not state.allowed:
            return Opened(None, locked=state)
    for index, (key, policy) in enumerate(limits):
        result = yield ("hit", (key, policy), {})
        if not result.allowed:
            return Opened(None, limited=index, window=result)
    return Opened((yield ("create", (new,), {"retention": retention})))


def drive_steps(store: ChallengeStore, steps: Generator[Step, Any, Opened]) -> Opened:
    """Run :func:`open_in_steps` against a blocking store."""
    try:
        name, args, kwargs = next(steps)
        while True:
            name, args, kwargs = steps.send(getattr(store, name)(*args, **kwargs))
    except StopIteration as done:
        opened: Opened = done.value
        return opened


async def drive_steps_async(store: Any, steps: Generator[Step, Any, Opened]) -> Opened:
    """Run :func:`open_in_steps` against an asyncio store (its operations are coroutines)."""
    try:
        name, args, kwargs = next(steps)
        while True:
            name, args, kwargs = steps.send(await getattr(store, name)(*args, **kwargs))
    except StopIteration as done:
        opened: Opened = done.value
        return opened


class ClusterBase(RedisBase):
    """What both cluster flavours change: the URL names several nodes, and discovering the
    cluster is I/O, done on first use.

    With ``wait_replicas``, a write that spends goes with its WAIT straight to the master that
    owns its slot (WAIT must share the write's connection; redis-py's cluster client would send
    it to every node). Those writes bypass the client's own redirect handling, so after any
    failed request the next one re-reads the topology first: a failover is followed.
    """

    scheme_hint: ClassVar[str] = "redis+cluster://host:port[,host:port…]"
    _stale = False

    def _lost(self) -> None:
        self._stale = True

    def _refresh(self) -> bool:
        """Whether the topology must be re-read before the next durable write (and clear it)."""
        stale, self._stale = self._stale, False
        return stale

    def _one_slot(
        self, new: NewChallenge, lockout_key: str | None, limits: Sequence[tuple[str, WindowPolicy]]
    ) -> bool:
        """Whether ``open``'s keys share the challenge's hash tag, so one script may hold them all."""
        tag = hash_tag(self.challenge_key(new.id))
        keys = [self.window_key(key) for key, _ in limits]
        if lockout_key is not None:
            keys.append(self.lockout_key(lockout_key))
        return all(hash_tag(key) == tag for key in keys)

    def _check_url(self) -> None:
        scheme = urlsplit(self._url).scheme.lower()
        if scheme not in {"redis+cluster", "rediss+cluster"}:
            raise ConfigurationError(f"bad Redis Cluster URL scheme {scheme!r}: expected {self.scheme_hint}")
        self._nodes, self._username, self._password = cluster_nodes(self._url)

    def _connect(self) -> Any:
        cluster = self._driver().cluster
        return cluster.RedisCluster(
            startup_nodes=[cluster.ClusterNode(host, port) for host, port in self._nodes],
            username=self._username,
            password=self._password,
            ssl=urlsplit(self._url).scheme.lower() == "rediss+cluster",
            decode_responses=True,
            **self._options,
        )


class RedisClusterStore(ClusterBase, RedisStore):
    """A store on a Redis Cluster. Connects on first use (discovering the cluster is I/O).

    ``open`` is one script when its keys share the challenge's slot, else its steps one by one.
    """

    def open(
        self,
        new: NewChallenge,
        *,
        retention: float,
        lockout_key: str | None = None,
        limits: Sequence[tuple[str, WindowPolicy]] = (),
    ) -> Opened:
        if self._one_slot(new, lockout_key, limits):
            return super().open(new, retention=retention, lockout_key=lockout_key, limits=limits)
        return drive_steps(
            self, open_in_steps(new, retention=retention, lockout_key=lockout_key, limits=limits)
        )

    def _pinned(self, client: Any, request: Request[Any]) -> Any:
        if self._refresh():
            client.nodes_manager.initialize()
        return client.get_redis_connection(client.get_node_from_key(request.key))
