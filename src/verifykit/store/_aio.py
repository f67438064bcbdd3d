"""The challenge store for asyncio: the same operations as :class:`~verifykit.store.ChallengeStore`,
each ``async def``, with the same arguments and results. :mod:`verifykit.aio` re-exports it.

Nothing here decides anything. :class:`AsyncMemoryStore` awaits nothing: the memory store's
operations are pure and brief, so it calls them directly. The Redis flavours build each
operation's request and read its reply with the very functions the sync Redis store uses
(:class:`~verifykit.store._redis.RedisBase`); only the sending is awaited, on ``redis.asyncio``.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence
from typing import Any, TypeVar

from .._clock import Clock
from .._errors import StoreUnavailable
from ._base import (
    AttemptOutcome,
    ChallengeBrief,
    ChallengeRecord,
    FailureState,
    LockoutPolicy,
    NewChallenge,
    Opened,
    ResendOutcome,
    WindowPolicy,
    WindowResult,
)
from ._cluster import ClusterBase, drive_steps_async, open_in_steps
from ._factory import backend_for, failure_cause, parse_store_url
from ._memory import MemoryStore
from ._redis import RedisBase, Request

__all__ = [
    "AsyncChallengeStore",
    "AsyncMemoryStore",
    "AsyncRedisClusterStore",
    "AsyncRedisStore",
    "open_async_store",
]

T = TypeVar("T")


class AsyncChallengeStore(abc.ABC):
    """:class:`~verifykit.store.ChallengeStore` for asyncio; open one with :func:`open_async_store`.

    Every method may raise :class:`~verifykit.StoreUnavailable`; none ever reports an
    approval it could not make durable.
    """

    namespace: str

    @abc.abstractmethod
    async def now(self) -> float:
        """The backend's clock, as ``ChallengeStore.now``."""

    @abc.abstractmethod
    async def create(self, new: NewChallenge, *, retention: float) -> ChallengeRecord:
        """Open a pending challenge, as ``ChallengeStore.create``."""

    @abc.abstractmethod
    async def open(
        self,
        new: NewChallenge,
        *,
        retention: float,
        lockout_key: str | None = None,
        limits: Sequence[tuple[str, WindowPolicy]] = (),
    ) -> Opened:
        """Open a challenge unless a limit refuses, in one step, as ``ChallengeStore.open``."""

    @abc.abstractmethod
    async def get(self, challenge_id: str) -> ChallengeRecord | None:
        """Read a challenge, as ``ChallengeStore.get``."""

    @abc.abstractmethod
    async def attempt(
        self,
        challenge_id: str,
        candidates: Sequence[str],
        *,
        lockout_key: str | None = None,
        lockout: LockoutPolicy | None = None,
    ) -> tuple[AttemptOutcome, ChallengeBrief | None, FailureState | None]:
        """Spend one attempt atomically, as ``ChallengeStore.attempt``."""

    @abc.abstractmethod
    async def resend(
        self,
        challenge_id: str,
        secret: str,
        *,
        ttl: float,
        max_sends: int,
        cooldown: float,
        cooldown_factor: float,
        cooldown_max: float,
        live_sends: int = 1,
    ) -> tuple[ResendOutcome, ChallengeRecord | None, float]:
        """Add a send once the cooldown allows, keeping ``live_sends``, as ``ChallengeStore.resend``."""

    @abc.abstractmethod
    async def set_delivery(
        self, challenge_id: str, delivery: str, reason: str = ""
    ) -> ChallengeRecord | None:
        """Record how delivery went, as ``ChallengeStore.set_delivery``."""

    @abc.abstractmethod
    async def cancel(self, challenge_id: str) -> tuple[bool, ChallengeRecord | None]:
        """Cancel a pending challenge, as ``ChallengeStore.cancel``."""

    @abc.abstractmethod
    async def hit(self, key: str, policy: WindowPolicy, cost: int = 1) -> WindowResult:
        """Count events in a sliding window, as ``ChallengeStore.hit``."""

    @abc.abstractmethod
    async def refund(self, key: str, policy: WindowPolicy, cost: int = 1) -> WindowResult:
        """Give events back to a window, as ``ChallengeStore.refund``."""

    @abc.abstractmethod
    async def charge(self, key: str, policy: LockoutPolicy) -> FailureState:
        """Charge one failure before an attempt, as ``ChallengeStore.charge``."""

    @abc.abstractmethod
    async def failure_state(self, key: str) -> FailureState:
        """Read failures and lockout, as ``ChallengeStore.failure_state``."""

    @abc.abstractmethod
    async def reset_failures(self, key: str) -> None:
        """Forget consecutive failures, as ``ChallengeStore.reset_failures``."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    async def __aenter__(self) -> AsyncChallengeStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncMemoryStore(AsyncChallengeStore):
    """``memory://`` for asyncio: a :class:`~verifykit.store.MemoryStore` awaited in place.

    Its operations never wait on I/O and hold their lock only for a few dictionary updates,
    so they run on the event loop itself; a thread hop would cost more than the work.
    """

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.sync = store if store is not None else MemoryStore()
        self.namespace = self.sync.namespace

    def __repr__(self) -> str:
        return f"AsyncMemoryStore(namespace={self.namespace!r})"

    async def now(self) -> float:
        return self.sync.now()

    async def create(self, new: NewChallenge, *, retention: float) -> ChallengeRecord:
        return self.sync.create(new, retention=retention)

    async def open(
        self,
        new: NewChallenge,
        *,
        retention: float,
        lockout_key: str | None = None,
        limits: Sequence[tuple[str, WindowPolicy]] = (),
    ) -> Opened:
        return self.sync.open(new, retention=retention, lockout_key=lockout_key, limits=limits)

    async def get(self, challenge_id: str) -> ChallengeRecord | None:
        return self.sync.get(challenge_id)

    async def attempt(
        self,
        challenge_id: str,
        candidates: Sequence[str],
        *,
        lockout_key: str | None = None,
        lockout: LockoutPolicy | None = None,
    ) -> tuple[AttemptOutcome, ChallengeBrief | None, FailureState | None]:
        return self.sync.attempt(challenge_id, candidates, lockout_key=lockout_key, lockout=lockout)

    async def resend(
        self,
        challenge_id: str,
        secret: str,
        *,
        ttl: float,
        max_sends: int,
        cooldown: float,
        cooldown_factor: float,
        cooldown_max: float,
        live_sends: int = 1,
    ) -> tuple[ResendOutcome, ChallengeRecord | None, float]:
        return self.sync.resend(
            challenge_id,
            secret,
            ttl=ttl,
            max_sends=max_sends,
            cooldown=cooldown,
            cooldown_factor=cooldown_factor,
            cooldown_max=cooldown_max,
            live_sends=live_sends,
        )

    async def set_delivery(
        self, challenge_id: str, delivery: str, reason: str = ""
    ) -> ChallengeRecord | None:
        return self.sync.set_delivery(challenge_id, delivery, reason)

    async def cancel(self, challenge_id: str) -> tuple[bool, ChallengeRecord | None]:
        return self.sync.cancel(challenge_id)

    async def hit(self, key: str, policy: WindowPolicy, cost: int = 1) -> WindowResult:
        return self.sync.hit(key, policy, cost)

    async def refund(self, key: str, policy: WindowPolicy, cost: int = 1) -> WindowResult:
        return self.sync.refund(key, policy, cost)

    async def charge(self, key: str, policy: LockoutPolicy) -> FailureState:
        return self.sync.charge(key, policy)

    async def failure_state(self, key: str) -> FailureState:
        return self.sync.failure_state(key)

    async def reset_failures(self, key: str) -> None:
        self.sync.reset_failures(key)

    async def ping(self) -> None:
        """Always answers: the store is this process's memory (see :meth:`AsyncRedisStore.ping`)."""

    async def close(self) -> None:
        self.sync.close()


class AsyncRedisStore(RedisBase, AsyncChallengeStore):
    """``redis://``, ``rediss://`` and ``unix://`` for asyncio, on ``redis.asyncio``.

    Options, keys, scripts and replies are the sync :class:`~verifykit.store._redis.RedisStore`'s
    own; see it for what they mean.
    """

    uses_asyncio = True

    def __init__(
        self, url: str = "redis://127.0.0.1:6379/0", *, namespace: str = "vk", **options: Any
    ) -> None:
        super().__init__(url, namespace=namespace, **options)
        self._opening = asyncio.Lock()

    async def _open(self) -> Any:
        """Build the client once, and share it only when it is ready: ``redis.asyncio``'s cluster
        client, first used by many tasks at once, discovers the cluster while they already send
        on its connections."""
        async with self._opening:
            if self._client is None:
                client = self._connect()
                try:
                    await client.initialize()
                except BaseException:
                    await client.aclose()
                    raise
                self._client = client
        return self._client

    async def _send(self, request: Request[T]) -> T:
        """One round trip (two more when the server lost the script); driver errors fail closed."""
        try:
            client = self._client if self._client is not None else await self._open()
            if self._waits(request):
                reply = await self._send_waiting(client, request)
            else:
                try:
                    reply = await client.execute_command(*request.command)
                except self._noscript:
                    await client.execute_command(*request.load())
                    reply = await client.execute_command(*request.command)
        except self._errors as exc:
            self._lost()
            raise request.unavailable(exc) from exc
        return request.read(reply)

    async def _send_waiting(self, client: Any, request: Request[T]) -> Any:
        """The script and its WAIT, pipelined on one connection (see ``RedisStore._send_waiting``)."""
        try:
            replies = await self._pipeline_async(client, request)
        except self._noscript:
            await client.execute_command(*request.load())
            replies = await self._pipeline_async(client, request)
        return self._acked(request, replies)

    async def _pipeline_async(self, client: Any, request: Request[Any]) -> Any:
        pipe = client.pipeline(transaction=False)
        pipe.execute_command(*request.command)
        pipe.execute_command(*self._wait_command())
        return await pipe.execute()

    async def ping(self) -> None:
        """Return once the server answers PING; else raise :class:`~verifykit.StoreUnavailable`
        naming where the store is and why it did not answer (a password in the URL masked).

        For health checks, not an operation: it reads and decides nothing."""
        try:
            client = self._client if self._client is not None else await self._open()
            await client.execute_command("PING")
        except self._errors as exc:
            self._lost()
            where = parse_store_url(self._url).location
            raise StoreUnavailable(
                f"the Redis store at {where} does not answer: {failure_cause(self._url, exc)}"
            ) from exc

    async def now(self) -> float:
        return await self._send(self._now())

    async def create(self, new: NewChallenge, *, retention: float) -> ChallengeRecord:
        return await self._send(self._create(new, retention))

    async def open(
        self,
        new: NewChallenge,
        *,
        retention: float,
        lockout_key: str | None = None,
        limits: Sequence[tuple[str, WindowPolicy]] = (),
    ) -> Opened:
        return await self._send(self._open_challenge(new, retention, lockout_key, limits))

    async def get(self, challenge_id: str) -> ChallengeRecord | None:
        return await self._send(self._get(challenge_id))

    async def attempt(
        self,
        challenge_id: str,
        candidates: Sequence[str],
        *,
        lockout_key: str | None = None,
        lockout: LockoutPolicy | None = None,
    ) -> tuple[AttemptOutcome, ChallengeBrief | None, FailureState | None]:
        return await self._send(self._attempt(challenge_id, candidates, lockout_key, lockout))

    async def resend(
        self,
        challenge_id: str,
        secret: str,
        *,
        ttl: float,
        max_sends: int,
        cooldown: float,
        cooldown_factor: float,
        cooldown_max: float,
        live_sends: int = 1,
    ) -> tuple[ResendOutcome, ChallengeRecord | None, float]:
        policy = (ttl, max_sends, cooldown, cooldown_factor, cooldown_max, live_sends)
        return await self._send(self._resend(challenge_id, secret, policy))

    async def set_delivery(
        self, challenge_id: str, delivery: str, reason: str = ""
    ) -> ChallengeRecord | None:
        return await self._send(self._set_delivery(challenge_id, delivery, reason))

    async def cancel(self, challenge_id: str) -> tuple[bool, ChallengeRecord | None]:
        return await self._send(self._cancel(challenge_id))

    async def hit(self, key: str, policy: WindowPolicy, cost: int = 1) -> WindowResult:
        return await self._send(self._hit(key, policy, cost))

    async def refund(self, key: str, policy: WindowPolicy, cost: int = 1) -> WindowResult:
        return await self._send(self._refund(key, policy, cost))

    async def charge(self, key: str, policy: LockoutPolicy) -> FailureState:
        return await self._send(self._charge(key, policy))

    async def failure_state(self, key: str) -> FailureState:
        return await self._send(self._failure_state(key))

    async def reset_failures(self, key: str) -> None:
        await self._send(self._reset_failures(key))

    async def close(self) -> None:
        client = self._detach()
        if client is not None:
            await client.aclose()


class AsyncRedisClusterStore(ClusterBase, AsyncRedisStore):
    """``redis+cluster://`` for asyncio: a Redis Cluster on ``redis.asyncio``.

    ``open`` is one script when its keys share the challenge's slot, else its steps one by one
    (as :func:`~verifykit.store._cluster.open_in_steps` takes them).
    """

    async def open(
        self,
        new: NewChallenge,
        *,
        retention: float,
        lockout_key: str | None = None,
        limits: Sequence[tuple[str, WindowPolicy]] = (),
    ) -> Opened:
        if self._one_slot(new, lockout_key, limits):
            return await super().open(new, retention=retention, lockout_key=lockout_key, limits=limits)
        steps = open_in_steps(new, retention=retention, lockout_key=lockout_key, limits=limits)
        return await drive_steps_async(self, steps)

    async def _pipeline_async(self, client: Any, request: Request[Any]) -> Any:
        # redis.asyncio's cluster has no per-node client to pipeline on: write both commands on
        # one connection of the owning node and read both replies, so none is left unread.
        if self._refresh():
            await client.nodes_manager.initialize()
        node = client.get_node_from_key(request.key)
        connection = node.acquire_connection()
        replies: list[Any] = []
        failure: BaseException | None = None
        try:
            await connection.send_packed_command(
                connection.pack_commands([request.command, self._wait_command()])
            )
            for _ in range(2):
                try:
                    replies.append(await connection.read_response())
                except self._response_error as exc:  # NOSCRIPT, MOVED: read the WAIT reply too
                    failure = failure or exc
                    replies.append(None)
        except BaseException:
            connection.mark_for_reconnect()  # a reply may be unread: the connection is spent
            raise
        finally:
            node.release(connection)
        if failure is not None:
            raise failure
        return replies


def open_async_store(
    url: str = "memory://",
    *,
    namespace: str = "vk",
    clock: Clock | None = None,
    **options: Any,
) -> AsyncChallengeStore:
    """Open the async store a URL names: the same URLs and options as :func:`open_store`.

    :func:`verifykit.aio.open_store` is this function under its asyncio name."""
    kind = backend_for(url, namespace=namespace, clock=clock, options=options)
    if kind == "memory":
        return AsyncMemoryStore(MemoryStore(namespace=namespace, clock=clock))
    flavour = AsyncRedisClusterStore if kind == "cluster" else AsyncRedisStore
    return flavour(url, namespace=namespace, **options)
