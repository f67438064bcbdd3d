"""Flows: every verifier's rules written once, free of I/O, and two small drivers that run them.

A flow is a generator. It decides, yields the I/O it needs as a plain value (a *step*), and
decides again from the answer the driver sends back::

    record = yield store_op.get(challenge_id)
    yield Emit(event)

:func:`run_sync` answers each step with blocking calls; :func:`run_async` answers the same steps
with awaits, keeping heavy work and blocking mailers off the event loop. So the sync API, the
asyncio API (:mod:`verifykit.aio`) and the sidecar share every rule; only these two functions differ.

- An exception raised by the I/O is thrown into the flow at its ``yield`` (a flow catches
  ``DeliveryError`` or ``BusyError`` like any call); whatever the flow raises reaches the caller.
- A memory-budget slot a flow reserved and never released is released when the flow ends, however
  it ends, so a forgotten :class:`Release` or an exception between the two cannot leak budget.
- A sync mailer under :func:`run_async` (an :class:`~verifykit.delivery.Outbox`, an
  :class:`~verifykit.delivery.SMTPMailer`) runs in the thread executor: its ``send`` may block for
  its whole deadline. An async mailer (``async def send``) is awaited.
- Under :func:`run_async` the audit sink runs in the loop's default executor and is awaited: a
  sink that writes to disk holds up its own flow only, never the loop.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import Enum
from functools import partial
from typing import Any, Protocol, TypeVar

from ._audit import AuditEvent, AuditSink, emit
from ._errors import AuditUnavailable, BusyError, ConfigurationError
from .store import ChallengeStore

__all__ = [
    "AsyncFlowIO",
    "AsyncMailerLike",
    "Budget",
    "Emit",
    "Flow",
    "FlowIO",
    "Release",
    "Reserve",
    "Send",
    "Slot",
    "Step",
    "StoreCall",
    "Work",
    "WorkKind",
    "drive",
    "run_async",
    "run_sync",
    "store_op",
]

T = TypeVar("T")

# The operations a flow may ask of a store: exactly the ChallengeStore's, by name.
_STORE_METHODS = frozenset(
    name for name in ChallengeStore.__abstractmethods__ if not name.startswith("_")
) | {"now"}


@dataclass(frozen=True, slots=True)
class StoreCall:
    """Call the store method ``method``: ``store.method(*args, **kwargs)`` (awaited on an async store)."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in _STORE_METHODS:
            raise AttributeError(f"a challenge store has no operation {self.method!r}")


class _StoreOps:
    """``store_op.hit(key, policy)`` builds ``StoreCall("hit", (key, policy))``, so flows read like calls."""

    def __getattr__(self, method: str) -> Callable[..., StoreCall]:
        if method.startswith("_"):
            raise AttributeError(method)

        def build(*args: Any, **kwargs: Any) -> StoreCall:
            return StoreCall(method, args, kwargs)

        return build


store_op = _StoreOps()


@dataclass(frozen=True, slots=True)
class Send:
    """Deliver ``message``; a :class:`~verifykit.DeliveryError` is thrown back into the flow."""

    message: EmailMessage


class WorkKind(Enum):
    """Whether heavy work lets other threads run: that decides where the async driver puts it."""

    #: Releases the GIL (argon2): threads run it in parallel.
    RELEASES_GIL = "releases_gil"
    #: Holds the GIL (dlib's encoder): a process pool runs it in parallel, when one is given.
    HOLDS_GIL = "holds_gil"


@dataclass(frozen=True, slots=True)
class Work:
    """Heavy CPU work: ``fn(*args)``; the answer is its result (``fn`` picklable, for a process pool)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kind: WorkKind = WorkKind.RELEASES_GIL


class Budget(Protocol):
    """A memory budget (:class:`~verifykit.password.MemoryBudget`): room held for a block."""

    def reserve(self, cost: int, timeout: float) -> AbstractContextManager[None]: ...


class Slot:
    """Room held in a memory budget; the answer to :class:`Reserve`, handed back with :class:`Release`."""

    __slots__ = ("_held",)

    def __init__(self, held: AbstractContextManager[None] | None) -> None:
        self._held = held

    @property
    def held(self) -> bool:
        return self._held is not None

    def release(self) -> None:
        """Give the room back (idempotent)."""
        held, self._held = self._held, None
        if held is not None:
            held.__exit__(None, None, None)


@dataclass(frozen=True, slots=True)
class Reserve:
    """Hold ``memory_bytes`` of the budget, waiting up to ``timeout`` s (then BusyError); answers a Slot."""

    memory_bytes: int
    timeout: float


@dataclass(frozen=True, slots=True)
class Release:
    """Give a :class:`Slot` back."""

    slot: Slot


@dataclass(frozen=True, slots=True)
class Emit:
    """Record an audit event.

    By default a broken sink is logged and never changes the flow. With ``required=True`` the
    record must be written before the flow goes on: a sink that raises makes the driver throw
    :class:`~verifykit.AuditUnavailable` into the flow at this step, so an effect the flow yields
    after it (an unlock, a voucher redemption) never happens unrecorded. With no sink at all
    (``audit=None``: auditing switched off by the caller) there is nothing to fail.
    """

    event: AuditEvent
    required: bool = False


def _emit(sink: AuditSink | None, step: Emit) -> None:
    if not step.required:
        emit(sink, step.event)
        return
    if sink is None:
        return
    try:
        sink(step.event)
    except Exception as exc:
        raise AuditUnavailable(
            f"the audit record of {step.event.verifier}/{step.event.action} could not be written"
        ) from exc


Step = StoreCall | Send | Work | Reserve | Release | Emit
Flow = Generator[Step, Any, T]


class _Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class AsyncMailerLike(Protocol):
    """An async mailer: ``async def send(message)``."""

    def send(self, message: EmailMessage) -> Awaitable[None]: ...


@dataclass(frozen=True, slots=True)
class FlowIO:
    """What :func:`run_sync` answers steps with. ``processes`` runs GIL-holding work when given."""

    store: ChallengeStore
    mailer: _Mailer | None = None
    audit: AuditSink | None = None
    budget: Budget | None = None
    processes: Executor | None = None


@dataclass(frozen=True, slots=True)
class AsyncFlowIO:
    """What :func:`run_async` answers steps with.

    ``store`` is an async store (``verifykit.aio.open_store``). ``threads`` runs GIL-releasing work,
    blocking mailers and budget waits (``None``: the loop's default executor); ``processes`` runs
    GIL-holding work when given, else ``threads`` does.

    ``audit`` is called in the loop's default executor, never on the loop (so it must be
    thread-safe, as it must be for the blocking flavour in a threaded server): not in ``threads``,
    which may be a pool of heavy work that a record must not queue behind. Each record is awaited
    before the flow's next step, so a flow's records keep their order and a required one is
    written before the effect that follows it.
    """

    store: Any
    mailer: AsyncMailerLike | _Mailer | None = None
    audit: AuditSink | None = None
    budget: Budget | None = None
    threads: Executor | None = None
    processes: Executor | None = None


def _budget(budget: Budget | None) -> Budget:
    if budget is None:
        raise ConfigurationError("this flow reserves memory, but no memory budget was given")
    return budget


def _mailer(mailer: Any) -> Any:
    if mailer is None:
        raise ConfigurationError("this flow sends email, but no mailer was given")
    return mailer


def _take(budget: Budget, step: Reserve, timeout: float) -> Slot:
    held = budget.reserve(step.memory_bytes, timeout)
    held.__enter__()
    return Slot(held)


def _answer_sync(step: Step, io: FlowIO, slots: list[Slot]) -> Any:  # noqa: PLR0911 - one per step
    match step:
        case StoreCall(method=method, args=args, kwargs=kwargs):
            return getattr(io.store, method)(*args, **kwargs)
        case Send(message=message):
            return _mailer(io.mailer).send(message)
        case Work(fn=fn, args=args, kind=kind):
            if kind is WorkKind.HOLDS_GIL and io.processes is not None:
                return io.processes.submit(fn, *args).result()
            return fn(*args)
        case Reserve():
            slots.append(slot := _take(_budget(io.budget), step, step.timeout))
            return slot
        case Release(slot=slot):
            return slot.release()
        case Emit():
            return _emit(io.audit, step)
    raise TypeError(f"a flow yielded {step!r}, which is not a step")


def run_sync(flow: Flow[T], io: FlowIO) -> T:
    """Run ``flow`` to its end with blocking I/O; return what it returns."""
    slots: list[Slot] = []
    try:
        step = next(flow)
        while True:
            try:
                answer = _answer_sync(step, io, slots)
            except Exception as exc:
                step = flow.throw(exc)
            else:
                step = flow.send(answer)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        flow.close()
        for slot in slots:
            slot.release()


async def _reserve(io: AsyncFlowIO, step: Reserve) -> Slot:
    budget = _budget(io.budget)
    reserve_async = getattr(budget, "reserve_async", None)
    if reserve_async is not None:
        # Waits on the loop, holding no thread: waiters parked in the executor could fill it and
        # starve the very work whose end they wait for.
        return Slot(await reserve_async(step.memory_bytes, step.timeout))
    try:
        return _take(budget, step, 0.0)  # room now, or queued callers ahead: never blocks
    except BusyError:
        if step.timeout <= 0:
            raise
    waiting = asyncio.get_running_loop().run_in_executor(io.threads, _take, budget, step, step.timeout)
    try:
        return await asyncio.shield(waiting)
    except asyncio.CancelledError:
        # The thread still waits for room; whatever it gets goes straight back.
        waiting.add_done_callback(_release_when_taken)
        raise


def _release_when_taken(waiting: asyncio.Future[Slot]) -> None:
    if not waiting.cancelled() and waiting.exception() is None:
        waiting.result().release()


def _release_after(held: list[Slot], running: asyncio.Future[Any]) -> None:
    if not running.cancelled():
        running.exception()  # retrieved: the caller that wanted it is gone
    for slot in held:
        slot.release()


async def _answer_async(step: Step, io: AsyncFlowIO, slots: list[Slot]) -> Any:  # noqa: PLR0911 - one per step
    loop = asyncio.get_running_loop()
    match step:
        case StoreCall(method=method, args=args, kwargs=kwargs):
            return await getattr(io.store, method)(*args, **kwargs)
        case Send(message=message):
            mailer = _mailer(io.mailer)
            if inspect.iscoroutinefunction(mailer.send):
                return await mailer.send(message)
            return await loop.run_in_executor(io.threads, mailer.send, message)
        case Work(fn=fn, args=args, kind=kind):
            pool = io.processes if kind is WorkKind.HOLDS_GIL and io.processes is not None else io.threads
            running = loop.run_in_executor(pool, partial(fn, *args))
            try:
                return await asyncio.shield(running)
            except asyncio.CancelledError:
                # The work goes on in its thread or process whatever the caller does: the room it
                # holds goes back only when it ends, or cancelled callers could overrun the budget.
                held = slots.copy()
                slots.clear()
                running.add_done_callback(partial(_release_after, held))
                raise
        case Reserve():
            slots.append(slot := await _reserve(io, step))
            return slot
        case Release(slot=slot):
            return slot.release()
        case Emit():
            if io.audit is None:
                return None
            # Off the loop: a sink may write to disk (the audit log flushes each record), and a
            # flush must not stall every other call. Awaited, so the flow's next step still waits.
            return await loop.run_in_executor(None, _emit, io.audit, step)
    raise TypeError(f"a flow yielded {step!r}, which is not a step")


async def run_async(flow: Flow[T], io: AsyncFlowIO) -> T:
    """Run ``flow`` to its end on the running event loop; return what it returns.

    A cancelled caller closes the flow (its ``finally`` blocks run) and releases its slots.
    """
    slots: list[Slot] = []
    try:
        step = next(flow)
        while True:
            try:
                answer = await _answer_async(step, io, slots)
            except Exception as exc:
                step = flow.throw(exc)
            else:
                step = flow.send(answer)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        flow.close()
        for slot in slots:
            slot.release()


def drive(flow: Flow[T], answers: Sequence[Any]) -> tuple[list[Step], T]:
    """Run ``flow`` by hand, answering its steps in order with ``answers`` (an exception is thrown in).

    For tests of a flow's decisions: no store, no mailer, no loop. Returns the steps and the result.
    """
    steps: list[Step] = []
    pending = list(answers)
    try:
        step = next(flow)
        while True:
            steps.append(step)
            answer = pending.pop(0)
            step = flow.throw(answer) if isinstance(answer, BaseException) else flow.send(answer)
    except StopIteration as done:
        return steps, done.value
