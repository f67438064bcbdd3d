"""What a fallback verifier is in either flavour: its flows, and a store and an audit sink that run them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from .._audit import AuditSink
from .._flow import AsyncFlowIO, Flow, FlowIO, run_async, run_sync
from ..store import ChallengeStore

if TYPE_CHECKING:
    from ..aio._store import AsyncChallengeStore

__all__ = ["AsyncShell", "SyncShell"]

F = TypeVar("F")
T = TypeVar("T")


class SyncShell(Generic[F]):
    """Runs the flows of ``flows`` with blocking calls on a :class:`~verifykit.store.ChallengeStore`."""

    def __init__(self, store: ChallengeStore, audit: AuditSink | None, flows: F) -> None:
        self.store = store
        self.audit = audit
        self._flows = flows
        self._io = FlowIO(store=store, audit=audit)

    def _run(self, flow: Flow[T]) -> T:
        return run_sync(flow, self._io)


class AsyncShell(Generic[F]):
    """Runs the flows of ``flows`` on the running event loop with an async store
    (:func:`verifykit.aio.open_store`)."""

    def __init__(self, store: AsyncChallengeStore, audit: AuditSink | None, flows: F) -> None:
        self.store = store
        self.audit = audit
        self._flows = flows
        self._io = AsyncFlowIO(store=store, audit=audit)

    async def _run(self, flow: Flow[T]) -> T:
        return await run_async(flow, self._io)
