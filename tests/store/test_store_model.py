"""Each backend, in each flavour, driven side by side with a plain model: the pure rules of
``store/_rules.py`` applied to dictionaries, at the store's own ``now()``.

On memory:// a fake clock jumps across every deadline, so expiry, purging, window slides
and lockout ends are all exercised and compared exactly. On Redis the server's clock runs
for real: policies are long enough that no deadline passes during a run, decisions are
compared exactly and times within the few milliseconds a step takes (the behaviour suite
covers real expiry on Redis).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from store_support import lock_key, new_id

from verifykit.store import (
    AttemptOutcome,
    ChallengeBrief,
    ChallengeRecord,
    ChallengeStatus,
    ChallengeStore,
    FailureState,
    LiveSend,
    LockoutPolicy,
    NewChallenge,
    WindowPolicy,
    WindowResult,
)
from verifykit.store._rules import (
    ChallengeState,
    LockoutState,
    apply_attempt,
    apply_charge,
    apply_resend,
    expire_if_due,
    lockout_view,
    window_hit,
    window_refund,
)
from verifykit.testing import FakeClock

TAGS = ["a" * 26, "b" * 26, "c" * 26]
SECRETS = ["k1:one", "k1:two", "k1:three", "k1:four"]


@dataclass(frozen=True)
class Timing:
    """Policies and time tolerance for one kind of clock."""

    ttls: tuple[float, ...]
    retention: float
    resend_after: float
    window: WindowPolicy
    lockout: LockoutPolicy
    cooldown: float
    tolerance: float  # seconds a time may differ between store and model


FAKE_CLOCK = Timing(
    ttls=(5.0, 20.0),
    retention=10.0,
    resend_after=3.0,
    window=WindowPolicy(limit=3, window=10.0),
    lockout=LockoutPolicy(threshold=2, lockout=2.0, lockout_max=8.0, hard_cap=6, memory=30.0),
    cooldown=2.0,
    tolerance=0.0,
)
REAL_CLOCK = Timing(
    ttls=(600.0, 900.0),
    retention=60.0,
    resend_after=0.0,
    window=WindowPolicy(limit=3, window=600.0),
    lockout=LockoutPolicy(threshold=2, lockout=300.0, lockout_max=1200.0, hard_cap=6, memory=3600.0),
    cooldown=0.0,
    tolerance=2.0,
)


@dataclass
class Model:
    kind: str
    subject: str
    created_at: float
    max_attempts: int
    destination: str
    retention: float
    state: ChallengeState


class StoreMachine(RuleBasedStateMachine):
    """Overridden per backend by :func:`_machine_for`."""

    open_store: Callable[[], tuple[ChallengeStore, FakeClock | None]]
    timing: Timing = FAKE_CLOCK

    challenges = Bundle("challenges")

    def __init__(self) -> None:
        super().__init__()
        self.store, self.clock = self.open_store()
        self.model: dict[str, Model] = {}
        self.windows: dict[str, list[float]] = {}
        self.lockouts: dict[str, LockoutState] = {}

    # -- helpers -------------------------------------------------------------------------------

    def now(self) -> float:
        return self.store.now()

    def close_enough(self, a: float, b: float) -> bool:
        if math.isinf(a) or math.isinf(b):
            return a == b
        return abs(a - b) <= self.timing.tolerance

    def live(self, cid: str, now: float) -> Model | None:
        entry = self.model.get(cid)
        if entry is not None and now >= entry.state.expires_at + entry.retention:
            del self.model[cid]
            return None
        return entry

    def same_brief(self, brief: ChallengeBrief | None, entry: Model | None) -> None:
        """An attempt answers with the few fields a check needs: they match the model's."""
        assert (brief is None) == (entry is None)
        if brief is None or entry is None:
            return
        s = entry.state
        assert (brief.status, brief.attempts_left, brief.approved_send) == (
            s.status,
            s.attempts_left,
            s.approved_send,
        )
        assert (brief.kind, brief.subject, brief.destination) == (
            entry.kind,
            entry.subject,
            entry.destination,
        )

    def same_record(self, record: ChallengeRecord | None, entry: Model | None) -> None:
        assert (record is None) == (entry is None)
        if record is None or entry is None:
            return
        s = entry.state
        assert (record.status, record.attempts_left, record.sends, record.approved_send) == (
            s.status,
            s.attempts_left,
            s.sends,
            s.approved_send,
        )
        assert [(x.send, x.secret) for x in record.live] == [(x.send, x.secret) for x in s.live]
        assert all(
            self.close_enough(x.expires_at, y.expires_at) for x, y in zip(record.live, s.live, strict=True)
        )
        assert (record.delivery, record.delivery_reason) == (s.delivery, s.delivery_reason)
        assert (record.kind, record.subject, record.max_attempts, record.destination) == (
            entry.kind,
            entry.subject,
            entry.max_attempts,
            entry.destination,
        )
        assert self.close_enough(record.created_at, entry.created_at)
        assert self.close_enough(record.expires_at, s.expires_at)
        assert self.close_enough(record.resend_at, s.resend_at)

    def same_failure(self, got: FailureState | None, want: FailureState | None) -> None:
        assert (got is None) == (want is None)
        if got is None or want is None:
            return
        assert (got.allowed, got.failures, got.hard_locked) == (want.allowed, want.failures, want.hard_locked)
        assert self.close_enough(got.retry_after, want.retry_after)

    def same_window(self, got: WindowResult, want: WindowResult) -> None:
        assert (got.allowed, got.count, got.limit) == (want.allowed, want.count, want.limit)
        assert self.close_enough(got.retry_after, want.retry_after)

    # -- rules ---------------------------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        self.model.clear()

    @rule(
        target=challenges,
        tag=st.sampled_from(TAGS),
        secret=st.sampled_from(SECRETS),
        max_attempts=st.integers(1, 4),
        ttl_index=st.integers(0, 1),
    )
    def create(self, tag: str, secret: str, max_attempts: int, ttl_index: int) -> str:
        t = self.timing
        new = NewChallenge(
            id=new_id(tag),
            kind="email_otp",
            subject=tag,
            secret=secret,
            ttl=t.ttls[ttl_index],
            max_attempts=max_attempts,
            resend_after=t.resend_after,
            destination="a***@example.com",
        )
        record = self.store.create(new, retention=t.retention)
        now = record.created_at  # the store's own now, exactly
        self.model[new.id] = Model(
            kind=new.kind,
            subject=new.subject,
            created_at=now,
            max_attempts=max_attempts,
            destination=new.destination,
            retention=t.retention,
            state=ChallengeState(
                status=ChallengeStatus.PENDING,
                expires_at=now + new.ttl,
                attempts_left=max_attempts,
                sends=1,
                resend_at=now + new.resend_after,
                live=[LiveSend(1, secret, now + new.ttl)],
                delivery="queued",
            ),
        )
        self.same_record(record, self.model[new.id])
        return new.id

    @rule(cid=challenges, secret=st.sampled_from(SECRETS), with_lockout=st.booleans())
    def attempt(self, cid: str, secret: str, with_lockout: bool) -> None:
        key = lock_key(cid)
        now = self.now()
        if with_lockout:
            outcome, record, failure = self.store.attempt(
                cid, [secret], lockout_key=key, lockout=self.timing.lockout
            )
            lock = self.lockouts.setdefault(key, LockoutState())
        else:
            outcome, record, failure = self.store.attempt(cid, [secret])
            lock = None
        entry = self.live(cid, now)
        want, want_failure = apply_attempt(
            entry.state if entry else None, now, [secret], lock, self.timing.lockout if lock else None
        )
        assert outcome is want
        self.same_brief(record, entry)
        self.same_failure(failure, want_failure)

    @rule(
        cid=challenges,
        secret=st.sampled_from(SECRETS),
        max_sends=st.integers(1, 4),
        live_sends=st.integers(1, 3),
        ttl_index=st.integers(0, 1),
    )
    def resend(self, cid: str, secret: str, max_sends: int, live_sends: int, ttl_index: int) -> None:
        t = self.timing
        policy = {
            "ttl": t.ttls[ttl_index],
            "max_sends": max_sends,
            "cooldown": t.cooldown,
            "cooldown_factor": 2.0,
            "cooldown_max": 30.0,
            "live_sends": live_sends,
        }
        now = self.now()
        outcome, record, wait = self.store.resend(cid, secret, **policy)
        entry = self.live(cid, now)
        want, want_wait = apply_resend(entry.state if entry else None, now, secret, **policy)
        assert outcome is want
        assert self.close_enough(wait, want_wait)
        self.same_record(record, entry)

    @rule(cid=challenges)
    def cancel(self, cid: str) -> None:
        now = self.now()
        changed, record = self.store.cancel(cid)
        entry = self.live(cid, now)
        want = False
        if entry is not None:
            expire_if_due(entry.state, now)
            if entry.state.status is ChallengeStatus.PENDING:
                entry.state.status, want = ChallengeStatus.CANCELED, True
        assert changed == want
        self.same_record(record, entry)

    @rule(cid=challenges, delivery=st.sampled_from(["sent", "failed"]))
    def set_delivery(self, cid: str, delivery: str) -> None:
        now = self.now()
        record = self.store.set_delivery(cid, delivery, "why" if delivery == "failed" else "")
        entry = self.live(cid, now)
        if entry is not None:
            entry.state.delivery = delivery
            entry.state.delivery_reason = "why" if delivery == "failed" else ""
            expire_if_due(entry.state, now)
        self.same_record(record, entry)

    @rule(cid=challenges)
    def get(self, cid: str) -> None:
        now = self.now()
        record = self.store.get(cid)
        entry = self.live(cid, now)
        if entry is not None:
            expire_if_due(entry.state, now)
        self.same_record(record, entry)

    @rule(cid=consumes(challenges))
    def forget_one(self, cid: str) -> None:
        """Stop using a challenge, so new ones keep being created."""

    @rule(key=st.sampled_from(["dest:a", "dest:b"]), cost=st.integers(0, 3))
    def hit(self, key: str, cost: int) -> None:
        now = self.now()
        got = self.store.hit(key, self.timing.window, cost)
        want = window_hit(self.windows.setdefault(key, []), now, self.timing.window, cost)
        self.same_window(got, want)

    @rule(key=st.sampled_from(["dest:a", "dest:b"]), cost=st.integers(0, 3))
    def refund(self, key: str, cost: int) -> None:
        now = self.now()
        got = self.store.refund(key, self.timing.window, cost)
        want = window_refund(self.windows.setdefault(key, []), now, self.timing.window, cost)
        self.same_window(got, want)

    @rule(tag=st.sampled_from(TAGS), secret=st.sampled_from(SECRETS))
    def attempt_unknown(self, tag: str, secret: str) -> None:
        """A guessed id is missing, and charges nothing to the subject it names."""
        cid = new_id(tag)
        outcome, record, failure = self.store.attempt(
            cid, [secret], lockout_key=lock_key(cid), lockout=self.timing.lockout
        )
        assert (outcome, record, failure) == (AttemptOutcome.MISSING, None, None)

    @rule(tag=st.sampled_from([*TAGS, "client:x"]))
    def charge(self, tag: str) -> None:
        key = tag if tag.startswith("client:") else f"{{{tag}}}:fail:otp"
        now = self.now()
        got = self.store.charge(key, self.timing.lockout)
        want = apply_charge(self.lockouts.setdefault(key, LockoutState()), now, self.timing.lockout)
        self.same_failure(got, want)

    @rule(tag=st.sampled_from([*TAGS, "client:x"]))
    def failure_state(self, tag: str) -> None:
        key = tag if tag.startswith("client:") else f"{{{tag}}}:fail:otp"
        now = self.now()
        got = self.store.failure_state(key)
        state = self.lockouts.get(key)
        self.same_failure(got, lockout_view(state, now) if state else FailureState(True, 0, 0.0))

    @rule(tag=st.sampled_from([*TAGS, "client:x"]))
    def reset_failures(self, tag: str) -> None:
        key = tag if tag.startswith("client:") else f"{{{tag}}}:fail:otp"
        self.store.reset_failures(key)
        self.lockouts.pop(key, None)

    @precondition(lambda self: self.clock is not None)
    @rule(seconds=st.sampled_from([0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 40.0]))
    def advance(self, seconds: float) -> None:
        assert self.clock is not None
        self.clock.advance(seconds)

    @invariant()
    def attempts_stay_within_budget(self) -> None:
        for entry in self.model.values():
            assert 0 <= entry.state.attempts_left <= entry.max_attempts

    def teardown(self) -> None:
        self.store.close()


def _machine_for(
    store_url: str, make_store: Callable[..., ChallengeStore]
) -> tuple[type[StoreMachine], settings]:
    memory = store_url.startswith("memory:")

    def open_store() -> tuple[ChallengeStore, FakeClock | None]:
        if memory:
            clock = FakeClock()
            return make_store(store_url, clock=clock), clock
        return make_store(store_url), None

    machine = type(
        "StoreMachineFor" + ("Memory" if memory else "Redis"),
        (StoreMachine,),
        {"open_store": staticmethod(open_store), "timing": FAKE_CLOCK if memory else REAL_CLOCK},
    )
    budget = settings(
        max_examples=60 if memory else 12,
        stateful_step_count=40 if memory else 25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    return machine, budget


def test_each_backend_follows_the_model(
    store_url: str, store_flavour: str, make_store: Callable[..., ChallengeStore]
) -> None:
    machine, budget = _machine_for(store_url, functools.partial(make_store, flavour=store_flavour))
    run_state_machine_as_test(machine, settings=budget)
