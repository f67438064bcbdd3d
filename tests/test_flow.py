"""The flow drivers: one toy flow, driven by hand and by both drivers, with no server at all."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from typing import Any

import pytest

from verifykit import (
    AuditEvent,
    AuditUnavailable,
    BusyError,
    ConfigurationError,
    DeliveryError,
    StoreUnavailable,
)
from verifykit._flow import (
    AsyncFlowIO,
    Emit,
    Flow,
    FlowIO,
    Release,
    Reserve,
    Send,
    Slot,
    StoreCall,
    Work,
    WorkKind,
    drive,
    run_async,
    run_sync,
    store_op,
)
from verifykit.aio import AsyncMemoryStore
from verifykit.password import MemoryBudget
from verifykit.store import MemoryStore, WindowPolicy
from verifykit.testing import Outbox

POLICY = WindowPolicy(limit=1, window=60)
# How long a test waits for another thread to get somewhere before it calls the run stuck: far
# beyond what any step takes, so only a hang reaches it, however loaded the machine is.
PATIENCE = 60.0
EVENT = AuditEvent(action="toy", verifier="otp", subject="s", outcome="ok")


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = "a@example.com", "b@example.com"
    message.set_content("hello")
    return message


def toy(key: str) -> Flow[str]:
    """Hit a window, deliver, do heavy work inside a budget slot, emit; report how it went."""
    hit = yield store_op.hit(key, POLICY)
    if not hit.allowed:
        return "refused"
    try:
        yield Send(_message())
        delivered = "sent"
    except DeliveryError:
        delivered = "failed"
    slot = yield Reserve(1024, timeout=1.0)
    doubled = yield Work(_double, (21,), WorkKind.RELEASES_GIL)
    yield Release(slot)
    yield Emit(EVENT)
    return f"{delivered}:{doubled}"


def _double(x: int) -> int:
    return 2 * x


def leaky() -> Flow[None]:
    """Reserves and never releases; then fails."""
    yield Reserve(1024, timeout=1.0)
    raise StoreUnavailable("the store went away")


def _hold_all(budget: MemoryBudget) -> Slot:
    """Someone else holds the whole budget until the slot is released."""
    taken = budget.reserve(budget.capacity, timeout=0)
    taken.__enter__()
    return Slot(taken)


class _AsyncOutbox:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


# -- by hand ---------------------------------------------------------------------------------------


def test_a_flow_asks_for_its_io_as_plain_values() -> None:
    from verifykit.store import WindowResult

    allowed = WindowResult(allowed=True, count=1, limit=1, retry_after=0.0)
    slot = Slot(None)
    steps, result = drive(toy("k"), [allowed, None, slot, 42, None, None])
    assert steps[0] == StoreCall("hit", ("k", POLICY))
    assert [type(s) for s in steps] == [StoreCall, Send, Reserve, Work, Release, Emit]
    assert steps[4] == Release(slot)
    assert result == "sent:42"


def test_an_exception_answered_to_a_step_is_raised_inside_the_flow() -> None:
    from verifykit.store import WindowResult

    allowed = WindowResult(allowed=True, count=1, limit=1, retry_after=0.0)
    _steps, result = drive(toy("k"), [allowed, DeliveryError("down"), Slot(None), 42, None, None])
    assert result == "failed:42"


def test_a_store_call_names_only_store_operations() -> None:
    with pytest.raises(AttributeError):
        store_op.drop_everything()


# -- both drivers ----------------------------------------------------------------------------------


def _sync(flow: Generator[Any, Any, Any], **io: Any) -> Any:
    return run_sync(flow, FlowIO(**io))


def _async(flow: Generator[Any, Any, Any], store: MemoryStore, **io: Any) -> Any:
    return asyncio.run(run_async(flow, AsyncFlowIO(store=AsyncMemoryStore(store), **io)))


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Any:
    return _sync if request.param == "sync" else _async


def test_both_drivers_answer_every_step(run: Any) -> None:
    store, outbox, budget, events = MemoryStore(), Outbox(), MemoryBudget(4096), []
    assert run(toy("k"), store=store, mailer=outbox, audit=events.append, budget=budget) == "sent:42"
    assert len(outbox) == 1 and events == [EVENT] and budget.in_flight == 0
    assert run(toy("k"), store=store, mailer=outbox, audit=events.append, budget=budget) == "refused"


def test_both_drivers_throw_a_delivery_error_into_the_flow(run: Any) -> None:
    outbox = Outbox()
    outbox.fail_next(1)
    result = run(toy("k"), store=MemoryStore(), mailer=outbox, budget=MemoryBudget(4096))
    assert result == "failed:42"


def test_the_async_driver_awaits_an_async_mailer() -> None:
    mailer = _AsyncOutbox()
    assert _async(toy("k"), MemoryStore(), mailer=mailer, budget=MemoryBudget(4096)) == "sent:42"
    assert len(mailer.sent) == 1


def test_what_a_flow_raises_reaches_the_caller_and_its_slot_is_released(run: Any) -> None:
    budget = MemoryBudget(4096)
    with pytest.raises(StoreUnavailable):
        run(leaky(), store=MemoryStore(), budget=budget)
    assert budget.in_flight == 0


def test_a_slot_left_held_when_a_flow_returns_is_released(run: Any) -> None:
    def forgetful() -> Flow[int]:
        yield Reserve(1024, timeout=1.0)
        return 7

    budget = MemoryBudget(4096)
    assert run(forgetful(), store=MemoryStore(), budget=budget) == 7
    assert budget.in_flight == 0


def test_a_full_budget_raises_busy_inside_the_flow(run: Any) -> None:
    def patient() -> Flow[str]:
        try:
            yield Reserve(4096, timeout=0.05)
        except BusyError:
            return "busy"
        return "admitted"

    budget = MemoryBudget(4096)
    with budget.reserve(4096, timeout=0):  # someone else holds it all
        assert run(patient(), store=MemoryStore(), budget=budget) == "busy"


def test_a_flow_without_the_io_it_needs_is_a_configuration_error(run: Any) -> None:
    with pytest.raises(ConfigurationError):
        run(toy("k"), store=MemoryStore())  # no mailer


def _broken_sink(event: AuditEvent) -> None:
    raise OSError("disk full")


def unlock(key: str) -> Flow[str]:
    """Records the unlock (required) before the store operation that takes effect."""
    try:
        yield Emit(EVENT, required=True)
    except AuditUnavailable:
        return "refused"
    yield store_op.reset_failures(key)
    return "unlocked"


def test_a_required_record_that_cannot_be_written_stops_the_flow_before_the_effect(run: Any) -> None:
    store = MemoryStore()
    assert run(unlock("k"), store=store, audit=_broken_sink) == "refused"


def test_a_required_record_failure_reaches_a_flow_that_does_not_catch_it(run: Any) -> None:
    def careless() -> Flow[str]:
        yield Emit(EVENT, required=True)
        return "went on"

    with pytest.raises(AuditUnavailable) as raised:
        run(careless(), store=MemoryStore(), audit=_broken_sink)
    assert isinstance(raised.value.__cause__, OSError)


def test_a_required_record_that_is_written_lets_the_flow_go_on(run: Any) -> None:
    events: list[AuditEvent] = []
    assert run(unlock("k"), store=MemoryStore(), audit=events.append) == "unlocked"
    assert events == [EVENT]


def test_an_ordinary_record_that_cannot_be_written_never_changes_the_flow(run: Any) -> None:
    def ordinary() -> Flow[str]:
        yield Emit(EVENT)
        return "went on"

    assert run(ordinary(), store=MemoryStore(), audit=_broken_sink) == "went on"


async def until(what: str, condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition()`` holds (another thread made it so), or fail at PATIENCE."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {PATIENCE} s")
        await asyncio.sleep(0.001)


class _SlowSink:
    """A sink that blocks until another task on the loop lets it go (or a generous deadline
    passes, which only a sink run on the loop itself would ever reach)."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.released: list[bool] = []
        self.order: list[str] = []

    def __call__(self, event: AuditEvent) -> None:
        self.released.append(self.go.wait(timeout=PATIENCE))
        self.order.append("recorded")


@pytest.mark.parametrize("required", [True, False])
def test_a_slow_audit_sink_does_not_stop_other_tasks_on_the_loop(required: bool) -> None:
    sink = _SlowSink()

    def recorded() -> Flow[str]:
        yield Emit(EVENT, required=required)
        return "went on"

    async def other_task() -> None:
        await asyncio.sleep(0)
        sink.go.set()

    async def both() -> str:
        flow = run_async(recorded(), AsyncFlowIO(store=AsyncMemoryStore(MemoryStore()), audit=sink))
        result, _ = await asyncio.gather(flow, other_task())
        return result

    assert asyncio.run(both()) == "went on"
    assert sink.released == [True]


def test_the_async_driver_waits_for_the_record_before_the_next_step() -> None:
    sink = _SlowSink()

    class _Noting(AsyncMemoryStore):
        async def reset_failures(self, key: str) -> None:
            sink.order.append("effect")
            await super().reset_failures(key)

    async def run_with_release() -> str:
        flow = run_async(unlock("k"), AsyncFlowIO(store=_Noting(MemoryStore()), audit=sink))
        task = asyncio.ensure_future(flow)
        await asyncio.sleep(0)
        sink.go.set()
        return await task

    assert asyncio.run(run_with_release()) == "unlocked"
    assert sink.order == ["recorded", "effect"]


def test_gil_holding_work_goes_to_the_process_pool_when_there_is_one(run: Any) -> None:
    def which_thread() -> Flow[str]:
        return (yield Work(threading.current_thread, (), WorkKind.HOLDS_GIL)).name

    with ThreadPoolExecutor(thread_name_prefix="heavy") as pool:  # a stand-in for a process pool
        assert run(which_thread(), store=MemoryStore(), processes=pool).startswith("heavy")


def test_the_async_driver_waits_for_room_off_the_loop() -> None:
    budget = MemoryBudget(4096)
    held = _hold_all(budget)

    def wants_room() -> Flow[str]:
        slot = yield Reserve(4096, timeout=PATIENCE)
        yield Release(slot)
        return "admitted"

    async def main() -> str:
        flow = asyncio.ensure_future(run_async(wants_room(), AsyncFlowIO(store=None, budget=budget)))
        # The loop keeps running (this coroutine polls on it) while the flow waits for room.
        await until("the flow never waited for room", lambda: budget.waiting == 1)
        assert not flow.done()
        held.release()
        return await flow

    assert asyncio.run(main()) == "admitted"
    assert budget.in_flight == 0


def test_a_cancelled_async_flow_gives_back_the_room_it_was_waiting_for() -> None:
    budget = MemoryBudget(4096)
    held = _hold_all(budget)

    def wants_room() -> Flow[None]:
        yield Reserve(4096, timeout=PATIENCE)

    async def main() -> None:
        flow = asyncio.ensure_future(run_async(wants_room(), AsyncFlowIO(store=None, budget=budget)))
        await until("the flow never waited for room", lambda: budget.waiting == 1)
        flow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await flow
        held.release()  # the waiting thread now takes the room, and gives it straight back
        await until("the room was not given back", lambda: budget.in_flight == 0 and not budget.waiting)

    asyncio.run(main())
    assert budget.in_flight == 0


def test_a_cancelled_async_flow_keeps_its_room_until_its_heavy_work_ends() -> None:
    budget = MemoryBudget(4096)
    started, finish = threading.Event(), threading.Event()

    def heavy() -> None:
        started.set()
        finish.wait(PATIENCE)

    def hashes() -> Flow[None]:
        slot = yield Reserve(4096, timeout=0)
        yield Work(heavy)
        yield Release(slot)

    async def main() -> None:
        flow = asyncio.ensure_future(run_async(hashes(), AsyncFlowIO(store=None, budget=budget)))
        await until("the heavy work never started", started.is_set)
        flow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await flow
        assert budget.in_flight == 4096  # the thread still hashes: its memory is still in use
        finish.set()
        await until("the room was not given back", lambda: budget.in_flight == 0)

    asyncio.run(main())
    assert budget.in_flight == 0
