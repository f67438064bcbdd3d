"""Every verifier is a shell around its flows, in one of two flavours.

A verifier's rules are flows (:mod:`verifykit._flow`), written once. Its shell checks, once and
before anything else, that it was given what every flow needs (:func:`require`: a store and a
keyring; verifykit never picks a secret or a place to keep state behind its caller's back), holds
the store and the audit sink, and runs the flows: :class:`SyncShell` with blocking calls,
:class:`AsyncShell` on the running event loop. Each verifier adds only its methods, one line each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._audit import AuditSink
from ._errors import ConfigurationError
from ._flow import AsyncFlowIO, Flow, FlowIO, run_async, run_sync
from .crypto import Keyring

if TYPE_CHECKING:
    from .store import ChallengeStore

__all__ = ["AsyncShell", "SyncShell", "require"]

F = TypeVar("F")
T = TypeVar("T")


def require(owner: str, *, store: object, keyring: object) -> None:
    """Refuse a missing store or keyring now, with what to pass, instead of an AttributeError on
    the first call (or INTERNAL over the sidecar)."""
    if store is None:
        raise ConfigurationError(f"{owner} needs a store (verifykit.testing has one for tests)")
    if not isinstance(keyring, Keyring):
        raise ConfigurationError(
            f"{owner} needs a keyring (Keyring.from_string(...); Keyring.generate() only in tests)"
        )


class _Shell(Generic[F]):
    """The part both flavours share: the check, the store, the audit sink and the flows."""

    def __init__(
        self,
        owner: str,
        *,
        store: Any,
        keyring: Keyring,
        audit: AuditSink | None,
        flows: Callable[[], F],
        io: Callable[..., Any],
        **options: Any,
    ) -> None:
        require(owner, store=store, keyring=keyring)
        self.store = store
        self.audit = audit
        self._flows = flows()
        self._io = io(store=store, audit=audit, **options)


class SyncShell(_Shell[F]):
    """Runs the flows ``flows()`` makes with blocking calls on a
    :class:`~verifykit.store.ChallengeStore`, once :func:`require` has passed."""

    store: ChallengeStore
    _io: FlowIO

    def __init__(self, owner: str, **parts: Any) -> None:
        super().__init__(owner, io=FlowIO, **parts)

    def _run(self, flow: Flow[T]) -> T:
        return run_sync(flow, self._io)


class AsyncShell(_Shell[F]):
    """Runs the flows ``flows()`` makes on the running event loop with an async store
    (:func:`verifykit.aio.open_store`), once :func:`require` has passed."""

    _io: AsyncFlowIO

    def __init__(self, owner: str, **parts: Any) -> None:
        super().__init__(owner, io=AsyncFlowIO, **parts)

    async def _run(self, flow: Flow[T]) -> T:
        return await run_async(flow, self._io)
