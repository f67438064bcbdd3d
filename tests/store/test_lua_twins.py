"""A rule that lives in Python and in Lua gives the same answer in both.

The resend rule (may a resend happen now, and what it changes) is `_rules.resend_refusal` /
`_rules.apply_resend` in Python and `lua/resend.lua` in Redis. Hypothesis draws challenge records and
times, boundaries included; the script runs on a real Redis with its clock set to the drawn time.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifykit.store import ChallengeStatus, NewChallenge, ResendOutcome
from verifykit.store._redis import script_source
from verifykit.store._rules import ChallengeState, apply_resend

NOW = 1_700_000_000
_CLOCK = "local t = redis.call('TIME')"


def _resend_script_at_fixed_time() -> str:
    """resend.lua as shipped, with Redis TIME replaced by the time passed as ARGV[7] and ARGV[8]."""
    source = script_source("resend")
    assert source.count(_CLOCK) == 1, "the script's clock changed shape; update this test"
    return source.replace(_CLOCK, "local t = {ARGV[7], ARGV[8]}")


offsets = st.one_of(st.sampled_from([0.0, -1e-6, 1e-6]), st.floats(-700, 700, allow_nan=False))


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    micros = draw(st.integers(0, 999_999))
    now = NOW + micros / 1_000_000
    return {
        "micros": micros,
        "now": now,
        "status": draw(st.sampled_from([ChallengeStatus.PENDING] * 4 + list(ChallengeStatus))),
        "sends": draw(st.integers(1, 7)),
        "max_sends": draw(st.integers(1, 6)),
        # Times at, just before and just after now, and anywhere around it.
        "expires_at": now + draw(offsets),
        "resend_at": now + draw(offsets),
        "ttl": draw(st.sampled_from([1.0, 600.0, 0.25])),
        "cooldown": draw(st.sampled_from([0.0, 30.0, 7.5])),
        "factor": draw(st.sampled_from([1.0, 2.0, 1.5])),
        "cooldown_max": draw(st.sampled_from([300.0, 45.0])),
    }


def _python(case: dict[str, Any]) -> tuple[str, dict[str, Any], float]:
    state = ChallengeState(
        status=case["status"],
        expires_at=case["expires_at"],
        attempts_left=3,
        sends=case["sends"],
        resend_at=case["resend_at"],
        secret="old",
        delivery="sent",
    )
    outcome, wait = apply_resend(
        state,
        case["now"],
        "new",
        ttl=case["ttl"],
        max_sends=case["max_sends"],
        cooldown=case["cooldown"],
        cooldown_factor=case["factor"],
        cooldown_max=case["cooldown_max"],
    )
    fields = {
        "status": state.status.value,
        "sends": state.sends,
        "expires_at": state.expires_at,
        "resend_at": state.resend_at,
        "secret": state.secret,
        "delivery": state.delivery,
    }
    return outcome.value, fields, wait


@pytest.fixture
def redis_store(redis_url: str, make_store: Any) -> Any:
    return make_store(redis_url)


def test_the_resend_rule_and_its_lua_twin_agree(redis_store: Any, redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)  # the test runs the script itself, at the drawn time
    script = client.register_script(_resend_script_at_fixed_time())
    counter = iter(range(1_000_000))

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(case=cases())
    def agree(case: dict[str, Any]) -> None:
        cid = f"{'a' * 26}.{next(counter):022d}"
        redis_store.create(
            NewChallenge(
                id=cid, kind="k", subject="s", secret="old", ttl=600, max_attempts=3, resend_after=0
            ),
            retention=1e9,  # never purged: purging is the store's business, not the rule's
        )
        key = redis_store.challenge_key(cid)
        client.hset(
            key,
            mapping={
                "status": case["status"].value,
                "sends": str(case["sends"]),
                "expires_at": repr(case["expires_at"]),
                "resend_at": repr(case["resend_at"]),
                "delivery": "sent",
            },
        )
        args = [
            "new",
            repr(case["ttl"]),
            str(case["max_sends"]),
            repr(case["cooldown"]),
            repr(case["factor"]),
            repr(case["cooldown_max"]),
            str(NOW),
            str(case["micros"]),
        ]
        outcome, fields, wait = json.loads(script(keys=[key], args=args))
        expected_outcome, expected, expected_wait = _python(case)
        assert (outcome, float(wait)) == (expected_outcome, pytest.approx(expected_wait, abs=1e-9))
        assert fields["status"] == expected["status"]
        assert int(fields["sends"]) == expected["sends"]
        assert fields["secret"] == expected["secret"] and fields["delivery"] == expected["delivery"]
        assert float(fields["expires_at"]) == pytest.approx(expected["expires_at"], abs=1e-9)
        assert float(fields["resend_at"]) == pytest.approx(expected["resend_at"], abs=1e-9)

    agree()


def test_every_resend_outcome_is_reached() -> None:
    """The generated cases reach every branch of the rule (else the comparison above proves little)."""
    seen: set[str] = set()

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(case=cases())
    def collect(case: dict[str, Any]) -> None:
        seen.add(_python(case)[0])

    collect()
    assert seen == {o.value for o in ResendOutcome} - {ResendOutcome.MISSING.value}
