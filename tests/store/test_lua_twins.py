"""A rule that lives in Python and in Lua gives the same answer in both.

Each script runs on a real Redis with its clock set to a drawn time, against its Python twin:

- the resend rule (may a resend happen now, and what it changes, the live sends kept beyond it
  included): ``_rules.resend_refusal`` / ``_rules.apply_resend`` and ``lua/resend.lua``;
- the attempt rule (which live send, if any, a code approves, each judged by its own expiry):
  ``_rules.apply_attempt`` / ``_rules.matching_send`` and ``lua/attempt.lua``.

Hypothesis draws challenge records with several live sends and times, boundaries included.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifykit.store import AttemptOutcome, ChallengeStatus, LiveSend, NewChallenge, ResendOutcome
from verifykit.store._redis import script_source
from verifykit.store._rules import ChallengeState, apply_attempt, apply_resend

NOW = 1_700_000_000
_CLOCK = "local t = redis.call('TIME')"
DIGESTS = ["k1:a", "k1:b", "k1:c", "k1:d"]


def _at_fixed_time(name: str, clock_key: str) -> str:
    """A script as shipped, with Redis TIME replaced by the time the test keeps in ``clock_key``."""
    source = script_source(name)
    assert source.count(_CLOCK) == 1, "the scripts' clock changed shape; update this test"
    return source.replace(_CLOCK, f"local t = redis.call('HMGET', '{clock_key}', 's', 'us')")


offsets = st.one_of(st.sampled_from([0.0, -1e-6, 1e-6]), st.floats(-700, 700, allow_nan=False))


@st.composite
def live_sends(draw: st.DrawFn, now: float, sends: int) -> list[LiveSend]:
    """Up to four of the newest sends, oldest first, each with an expiry around ``now``."""
    count = draw(st.integers(1, min(sends, 4)))
    digests = draw(st.permutations(DIGESTS))
    # Half the sends well inside their life, half anywhere around their expiry, boundaries included.
    lives = st.one_of(offsets, st.floats(1, 700, allow_nan=False))
    return [LiveSend(sends - count + 1 + i, digests[i], now + draw(lives)) for i in range(count)]


@st.composite
def moments(draw: st.DrawFn) -> tuple[int, float]:
    micros = draw(st.integers(0, 999_999))
    return micros, NOW + micros / 1_000_000


@st.composite
def resend_cases(draw: st.DrawFn) -> dict[str, Any]:
    micros, now = draw(moments())
    sends = draw(st.integers(1, 7))
    return {
        "micros": micros,
        "now": now,
        "status": draw(st.sampled_from([ChallengeStatus.PENDING] * 4 + list(ChallengeStatus))),
        "sends": sends,
        "live": draw(live_sends(now, sends)),
        "max_sends": draw(st.integers(1, 6)),
        # Times at, just before and just after now, and anywhere around it.
        "expires_at": now + draw(offsets),
        "resend_at": now + draw(offsets),
        "delivery": draw(st.sampled_from(["queued", "sent", "failed"])),
        "ttl": draw(st.sampled_from([1.0, 600.0, 0.25])),
        "cooldown": draw(st.sampled_from([0.0, 30.0, 7.5])),
        "factor": draw(st.sampled_from([1.0, 2.0, 1.5])),
        "cooldown_max": draw(st.sampled_from([300.0, 45.0])),
        "live_sends": draw(st.integers(1, 5)),
    }


@st.composite
def attempt_cases(draw: st.DrawFn) -> dict[str, Any]:
    micros, now = draw(moments())
    sends = draw(st.integers(1, 5))
    live = draw(live_sends(now, sends))
    return {
        "micros": micros,
        "now": now,
        "status": draw(st.sampled_from([ChallengeStatus.PENDING] * 4 + list(ChallengeStatus))),
        "sends": sends,
        "live": live,
        "attempts_left": draw(st.integers(1, 3)),
        "expires_at": max(s.expires_at for s in live),  # as every store keeps it
        "candidates": draw(st.lists(st.sampled_from([*DIGESTS, "k2:other"]), max_size=3)),
    }


def _state(case: dict[str, Any]) -> ChallengeState:
    return ChallengeState(
        status=case["status"],
        expires_at=case["expires_at"],
        attempts_left=case.get("attempts_left", 3),
        sends=case["sends"],
        resend_at=case.get("resend_at", case["now"]),
        live=list(case["live"]),
        delivery=case.get("delivery", "sent"),
    )


def _lua_live(live: list[LiveSend]) -> str:
    """The live sends as the challenge hash keeps them (see _redis._HASH_FIELDS)."""
    return json.dumps([[s.send, repr(s.expires_at), s.secret] for s in live])


def _from_lua(text: str) -> list[tuple[int, float, str]]:
    return [(int(send), float(expires), secret) for send, expires, secret in json.loads(text) or ()]


def _python_resend(case: dict[str, Any]) -> tuple[str, ChallengeState, float]:
    state = _state(case)
    outcome, wait = apply_resend(
        state,
        case["now"],
        "k1:new",
        ttl=case["ttl"],
        max_sends=case["max_sends"],
        cooldown=case["cooldown"],
        cooldown_factor=case["factor"],
        cooldown_max=case["cooldown_max"],
        live_sends=case["live_sends"],
    )
    return outcome.value, state, wait


def _python_attempt(case: dict[str, Any]) -> tuple[str, ChallengeState]:
    state = _state(case)
    outcome, _ = apply_attempt(state, case["now"], case["candidates"])
    return outcome.value, state


@pytest.fixture
def at_drawn_time(redis_url: str, make_store: Any) -> Iterator[Callable[[str], Callable[..., Any]]]:
    """``run = at_drawn_time("resend")``; ``run(case, fields, args)`` writes the case's challenge
    and runs the script as shipped at the case's time, answering its reply as redis-py reads it."""
    import redis

    store = make_store(redis_url)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    clock_key = f"{store.namespace}:test-clock:{uuid.uuid4().hex}"
    counter = iter(range(1_000_000))

    def scripted(name: str) -> Callable[..., Any]:
        script = client.register_script(_at_fixed_time(name, clock_key))

        def run(case: dict[str, Any], fields: dict[str, str], args: list[str]) -> Any:
            cid = f"{'a' * 26}.{next(counter):022d}"
            store.create(
                NewChallenge(
                    id=cid, kind="k", subject="s", secret="x", ttl=600, max_attempts=3, resend_after=0
                ),
                retention=1e9,  # never purged: purging is the store's business, not the rule's
            )
            key = store.challenge_key(cid)
            client.hset(key, mapping=fields)
            client.hset(clock_key, mapping={"s": str(NOW), "us": str(case["micros"])})
            return script(keys=[key], args=args)

        return run

    yield scripted
    client.delete(clock_key)
    client.close()


def _fields(case: dict[str, Any]) -> dict[str, str]:
    return {
        "status": case["status"].value,
        "sends": str(case["sends"]),
        "expires_at": repr(case["expires_at"]),
        "resend_at": repr(case.get("resend_at", case["now"])),
        "attempts_left": str(case.get("attempts_left", 3)),
        "live": _lua_live(case["live"]),
        "delivery": case.get("delivery", "sent"),
    }


_HYPOTHESIS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_the_resend_rule_and_its_lua_twin_agree(at_drawn_time: Callable[[str], Callable[..., Any]]) -> None:
    run = at_drawn_time("resend")

    @_HYPOTHESIS
    @given(case=resend_cases())
    def agree(case: dict[str, Any]) -> None:
        args = [
            "k1:new",
            repr(case["ttl"]),
            str(case["max_sends"]),
            repr(case["cooldown"]),
            repr(case["factor"]),
            repr(case["cooldown_max"]),
            str(case["live_sends"]),
        ]
        outcome, fields, wait = json.loads(run(case, _fields(case), args))
        expected_outcome, expected, expected_wait = _python_resend(case)
        assert (outcome, float(wait)) == (expected_outcome, pytest.approx(expected_wait, abs=1e-9))
        assert fields["status"] == expected.status.value
        assert int(fields["sends"]) == expected.sends and fields["delivery"] == expected.delivery
        assert _from_lua(fields["live"]) == [(s.send, s.expires_at, s.secret) for s in expected.live]
        assert float(fields["expires_at"]) == pytest.approx(expected.expires_at, abs=1e-9)
        assert float(fields["resend_at"]) == pytest.approx(expected.resend_at, abs=1e-9)

    agree()


def test_the_attempt_rule_and_its_lua_twin_agree(at_drawn_time: Callable[[str], Callable[..., Any]]) -> None:
    run = at_drawn_time("attempt")

    @_HYPOTHESIS
    @given(case=attempt_cases())
    def agree(case: dict[str, Any]) -> None:
        reply = run(case, {**_fields(case), "approved_send": "0"}, list(case["candidates"]))
        expected_outcome, expected = _python_attempt(case)
        # The brief's head: outcome, status, attempts left, approved send (lua/attempt.lua).
        outcome, status, attempts_left, approved_send = reply[0].split(" ")
        assert outcome == expected_outcome
        assert status == expected.status.value
        assert int(attempts_left) == expected.attempts_left
        assert int(approved_send) == expected.approved_send

    agree()


def test_every_resend_outcome_is_reached() -> None:
    """The generated cases reach every branch of the rule (else the comparison above proves little)."""
    seen: set[str] = set()
    kept: set[int] = set()

    @settings(max_examples=2000, deadline=None, derandomize=True, database=None)
    @given(case=resend_cases())
    def collect(case: dict[str, Any]) -> None:
        outcome, state, _ = _python_resend(case)
        seen.add(outcome)
        if outcome == ResendOutcome.OK.value:
            kept.add(len(state.live))

    collect()
    assert seen == {o.value for o in ResendOutcome} - {ResendOutcome.MISSING.value}
    assert {1, 2, 3} <= kept  # the new send alone, and with one and two earlier ones kept


def test_every_attempt_outcome_is_reached() -> None:
    """Approvals by an older send and by the newest, and wrong codes that match an expired send."""
    seen: set[str] = set()
    approved_by: set[str] = set()
    expired_match = False

    @settings(max_examples=2000, deadline=None, derandomize=True, database=None)
    @given(case=attempt_cases())
    def collect(case: dict[str, Any]) -> None:
        nonlocal expired_match
        outcome, state = _python_attempt(case)
        seen.add(outcome)
        if outcome == AttemptOutcome.APPROVED.value:
            approved_by.add("newest" if state.approved_send == case["sends"] else "older")
        if outcome in {AttemptOutcome.WRONG.value, AttemptOutcome.EXHAUSTED.value}:
            expired_match |= any(s.secret in case["candidates"] for s in case["live"])

    collect()
    assert seen == {o.value for o in AttemptOutcome} - {
        AttemptOutcome.MISSING.value,
        AttemptOutcome.LOCKED.value,
    }
    assert approved_by == {"newest", "older"}
    assert expired_match
