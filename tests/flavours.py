"""The one flavour harness: a suite written against the sync API runs over the asyncio flavour too.

:class:`Driven` puts an asyncio object behind plain calls: an event loop runs in a background
thread (:class:`LoopThread`) and each call waits for its coroutine there, so threads that call at
once become tasks racing in one loop. :class:`AsyncDriven` does so for an async store (the
``make_store(url, flavour="async")`` fixture), and :class:`Flavour` builds verifiers of either
flavour on stores of that flavour (the ``flavour`` fixture of ``tests/conftest.py``).

Both flavours run one I/O-free flow through two small drivers (``tests/test_flow.py`` holds the
drivers to one contract), so a behaviour test runs once, over the sync flavour. The asyncio
flavour runs too where it has code of its own to prove (:func:`runs_async_too`): tests that name
``sync`` and ``async`` themselves, tests marked ``async_too``, and those listed in
:data:`ASYNC_TOO` (a smoke test per verifier on each store backend, the store model on each
backend, the store's driver layer). ``pytest --all-flavours`` runs every test in both.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from verifykit.store import (
    AsyncChallengeStore,
    AsyncMemoryStore,
    ChallengeStore,
    MemoryStore,
    open_async_store,
    open_store,
)

__all__ = ["ASYNC_TOO", "FLAVOURS", "AsyncDriven", "Driven", "Flavour", "LoopThread", "runs_async_too"]

T = TypeVar("T")

FLAVOURS = ["sync", "async"]
# The fixtures that hand a test one flavour (``flavour``: a Flavour or its name; ``store_flavour``).
FLAVOUR_FIXTURES = ("flavour", "store_flavour")

# Tests (``path::name``, or a whole ``path``) that run over the asyncio flavour as well.
ASYNC_TOO = (
    # One smoke test per verifier, on each store backend where it takes one.
    "tests/otp/test_otp_email_flow.py::test_the_code_sent_by_email_approves_the_challenge",
    "tests/password/test_throttling.py::test_wrong_passwords_count_down_to_a_lockout",
    "tests/password/test_hashing.py::test_the_right_password_is_approved_without_an_upgrade",
    "tests/fallbacks/test_totp_verifier.py::test_right_code_approves",
    "tests/fallbacks/test_recovery_codes.py::"
    "test_each_code_redeems_once_and_each_redemption_hands_back_the_shorter_set",
    "tests/ladder/test_ways_in.py::test_every_enrolled_way_is_open_most_assured_first_and_the_voucher_last",
    "tests/vouchers/test_redeem.py::test_a_voucher_clears_the_hard_locks_it_names",
    "tests/face/test_face_verifier.py::test_another_photo_of_the_same_person_is_approved",
    "tests/face/test_face_verifier.py::test_repeated_mismatches_lock_the_subject_out_on_every_backend",
    "tests/face/test_face_index.py::"
    "test_additions_and_removals_share_a_clients_change_limit_on_every_backend_in_each_flavour",
    # Limits under racing calls: threads in one flavour, tasks in one loop in the other.
    "tests/otp/test_otp_client_limit.py",
    "tests/face/test_face_client_limit.py",
    "tests/face/test_face_workers.py",
    # The store: every operation against the model on each backend, and the driver layer
    # (connection options, timeouts, TLS), which the two flavours do not share.
    "tests/store/test_store_model.py::test_each_backend_follows_the_model",
    "tests/store/test_redis_store.py",
    "tests/store/test_redis_tls.py",
)


def _parametrizes_itself(item: pytest.Item, name: str) -> bool:
    for marker in item.iter_markers("parametrize"):
        names = marker.args[0]
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if name in names:
            return True
    return False


def runs_async_too(item: pytest.Item) -> bool:
    """Whether ``item`` runs, when it is the asyncio run of a test a flavour fixture parametrizes."""
    if item.get_closest_marker("async_too") is not None:
        return True
    path, _, name = item.nodeid.partition("::")
    name = name.split("[", 1)[0]
    return path in ASYNC_TOO or f"{path}::{name}" in ASYNC_TOO


def is_async_duplicate(item: pytest.Item) -> bool:
    """An asyncio run of a behaviour test that the sync run already covers."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    for name in FLAVOUR_FIXTURES:
        if params.get(name) == "async" and not _parametrizes_itself(item, name):
            return not runs_async_too(item)
    return False


class LoopThread:
    """An event loop running in a daemon thread; :meth:`run` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class Driven:
    """An asyncio object behind plain calls: coroutine methods are awaited on ``loop`` (a loop of
    its own when none is given, ended by :meth:`close`); any other attribute is the object's own."""

    def __init__(self, inner: Any, loop: LoopThread | None = None) -> None:
        self.inner = inner
        self._owns_loop = loop is None
        self._loop = loop if loop is not None else LoopThread()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        return lambda *args, **kwargs: self._loop.run(attribute(*args, **kwargs))

    def close(self) -> None:
        """The object's own ``close``, then the loop's end if the loop is its own."""
        if self._loop.loop.is_closed():
            return
        done = self.inner.close()
        if inspect.iscoroutine(done):
            self._loop.run(done)
        if self._owns_loop:
            self._loop.stop()

    def __enter__(self) -> Driven:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncDriven(Driven):
    """An :class:`AsyncChallengeStore` behind the sync ``ChallengeStore`` methods, on a loop of its own."""

    def __init__(self, store: AsyncChallengeStore) -> None:
        super().__init__(store)


class Flavour:
    """Verifiers of one flavour (``"sync"`` or ``"async"``), on stores it opens; :meth:`close` ends them.

    ``open_sync(url, **options)`` and ``open_async(url, **options)`` open stores with a namespace
    of the test's own (the ``make_store`` and ``make_async_store`` fixtures). A flavour compares
    equal to its name.
    """

    def __init__(
        self,
        name: str,
        open_sync: Callable[..., ChallengeStore],
        open_async: Callable[..., AsyncChallengeStore],
    ) -> None:
        self.name = name
        self._open_sync = open_sync
        self._open_async = open_async
        self._loop: LoopThread | None = None
        self._async_stores: list[AsyncChallengeStore] = []

    def __repr__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Flavour):
            return self.name == other.name
        return self.name == other if isinstance(other, str) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def is_async(self) -> bool:
        return self.name == "async"

    @property
    def loop(self) -> LoopThread:
        if self._loop is None:
            self._loop = LoopThread()
        return self._loop

    def store(self, url: str, *, keys: bool = True, **options: Any) -> Any:
        """A store of this flavour on ``url``; ``keys=False`` for a server that never answers
        (nothing to remove afterwards)."""
        if not self.is_async:
            return self._open_sync(url, **options) if keys else open_store(url, **options)
        store = self._open_async(url, **options) if keys else open_async_store(url, **options)
        self._async_stores.append(store)
        return store

    def memory_store(self, memory: MemoryStore) -> Any:
        """``memory`` itself, or the async store around it (to share a fake clock)."""
        return AsyncMemoryStore(memory) if self.is_async else memory

    def twin(self, store: ChallengeStore, url: str, **options: Any) -> Any:
        """``store`` itself, or an async store on the same backend and namespace (closed by :meth:`close`)."""
        if not self.is_async:
            return store
        if isinstance(store, MemoryStore):
            return AsyncMemoryStore(store)
        twin = open_async_store(url, namespace=store.namespace, **options)
        self._async_stores.append(twin)
        return twin

    def build(self, sync_class: Callable[..., T], async_class: Callable[..., Any], **options: Any) -> T:
        """``sync_class(**options)``, or ``async_class(**options)`` behind sync-looking methods."""
        if not self.is_async:
            return sync_class(**options)
        built: T = Driven(async_class(**options), self.loop)  # type: ignore[assignment]
        return built

    def close(self) -> None:
        if self._loop is None:
            return
        for store in self._async_stores:
            self._loop.run(store.close())
        self._async_stores.clear()
        self._loop.stop()
