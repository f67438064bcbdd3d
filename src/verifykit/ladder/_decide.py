"""The ladder, written once and free of I/O: which ways in a subject has now, and why not the others.

:func:`decide` is a pure function of the lockout states; :class:`LadderFlows` reads those states
from the store (one failure budget per subject, and each method's own count) and decides. The sync
:class:`~verifykit.ladder.Ladder` and :class:`verifykit.aio.Ladder` only run the flow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .._errors import ConfigurationError, InvalidInput
from .._flow import Flow, store_op
from .._subject import budget_key, lockout_key, subject_tag, validate_subject
from .._verdict import Reason, Way
from ..crypto import Keyring
from ..otp import DeliveryStatus
from ..store import FailureState
from ._levels import AAL, ASSURANCE, COMBINATIONS, OWN_COUNT, Combination, Role, parse_level, parse_way

__all__ = ["LadderFlows", "Offer", "Rung", "decide"]

# The order rungs are offered in when no level is asked: a passkey first (phishing-resistant),
# then the other authenticators, the scarce one
# (a printed code is spent) after the reusable ones, then what is not an authenticator.
_ORDER: tuple[Way, ...] = (
    Way.PASSKEY,
    Way.AUTHENTICATOR_APP,
    Way.PASSWORD,
    Way.RECOVERY_CODE,
    Way.EMAIL_CODE,
    Way.FACE,
)
_DELIVERY = frozenset({DeliveryStatus.QUEUED, DeliveryStatus.SENT, DeliveryStatus.FAILED})
# More entries than there are ways is a caller's mistake, not a list to walk.
_MAX_ENROLLED = 32


@dataclass(frozen=True, slots=True)
class Rung:
    """One way in, open or closed (then ``reason``).

    ``level`` is what the way reaches alone (``None``: it is not an authenticator). ``until`` is
    when a lock ends on the store's clock (epoch seconds); ``retry_after`` is the same as a wait.
    """

    way: Way
    open: bool
    role: Role
    level: AAL | None
    reason: Reason | None = None
    retry_after: float | None = None
    until: float | None = None


@dataclass(frozen=True, slots=True)
class Offer:
    """The ladder's answer.

    ``open`` is in the order to offer (the most assured first, then ways_in; the counter
    voucher always last and always open: it is the way out of a hard lock). ``combinations``
    (only when a level was asked) are the ways that together reach it, all open now, the most
    assured first. ``budget`` is the subject's one failure budget across methods.
    """

    level: AAL | None
    open: tuple[Rung, ...]
    closed: tuple[Rung, ...]
    combinations: tuple[Combination, ...]
    budget: FailureState


# A passkey that is device-bound, with attestation the operator trusts, reaches AAL3 alone
# (SP 800-63B-4 3.1.7 and 2.3.2; verifykit.passkey.assurance says which a credential is).
_PASSKEY_AAL3 = Combination((Way.PASSKEY,), AAL.AAL3)


def _rung(
    way: Way,
    reason: Reason | None = None,
    *,
    wait: float | None = None,
    now: float = 0.0,
    passkey: AAL = AAL.AAL2,
) -> Rung:
    role, level = ASSURANCE[way]
    if way is Way.PASSKEY:
        level = passkey
    if reason is None:
        return Rung(way, True, role, level)
    return Rung(way, False, role, level, reason, wait, None if wait is None else now + wait)


def _lock(way: Way, state: FailureState, now: float, passkey: AAL) -> Rung:
    if state.hard_locked:
        return _rung(way, Reason.HARD_LOCKED, passkey=passkey)
    return _rung(way, Reason.LOCKED_OUT, wait=state.retry_after, now=now, passkey=passkey)


def decide(
    enrolled: frozenset[Way],
    *,
    delivery: str | None,
    level: AAL | None,
    budget: FailureState,
    own: Mapping[Way, FailureState],
    now: float,
    passkey: AAL = AAL.AAL2,
) -> Offer:
    """The ways in now: a pure function of what the caller says and the lockout states read.

    Reasons take precedence in this order: not enrolled, below the level in principle, the
    subject's budget, the method's own count, the email's delivery, below the level with what
    is open now. ``passkey`` is the level the subject's passkey reaches (AAL2, or AAL3 when it is
    device-bound with trusted attestation).
    """
    every = (_PASSKEY_AAL3, *COMBINATIONS) if passkey is AAL.AAL3 else COMBINATIONS
    closed: list[Rung] = []
    usable: list[Way] = []
    for way in _ORDER:
        state = own.get(way)
        if way not in enrolled:
            closed.append(_rung(way, Reason.NOT_ENROLLED, passkey=passkey))
        elif level is not None and not any(way in c.ways and c.level >= level for c in every):
            closed.append(_rung(way, Reason.BELOW_LEVEL, passkey=passkey))
        elif not budget.allowed:
            closed.append(_lock(way, budget, now, passkey))
        elif state is not None and not state.allowed:
            closed.append(_lock(way, state, now, passkey))
        elif way is Way.EMAIL_CODE and delivery == DeliveryStatus.FAILED:
            closed.append(_rung(way, Reason.DELIVERY_FAILED))
        else:
            usable.append(way)

    combinations: tuple[Combination, ...] = ()
    if level is None:
        opened = usable
    else:
        combinations = tuple(c for c in every if c.level >= level and all(w in usable for w in c.ways))
        opened = list(dict.fromkeys(w for c in combinations for w in c.ways))
        closed.extend(_rung(way, Reason.BELOW_LEVEL, passkey=passkey) for way in usable if way not in opened)
    rungs = (*(_rung(way, passkey=passkey) for way in opened), _rung(Way.COUNTER_VOUCHER))
    by_order = {way: i for i, way in enumerate(_ORDER)}
    return Offer(
        level=level,
        open=rungs,
        closed=tuple(sorted(closed, key=lambda r: by_order[r.way])),
        combinations=combinations,
        budget=budget,
    )


def _enrolled(enrolled: object) -> frozenset[Way]:
    if isinstance(enrolled, str | bytes) or not isinstance(enrolled, Iterable):
        raise InvalidInput(
            "enrolled is a list of ways in, such as ['password', 'email_code']", field="enrolled"
        )
    ways: list[Way] = []
    for value in enrolled:
        if len(ways) >= _MAX_ENROLLED:
            raise InvalidInput(f"enrolled has more than {_MAX_ENROLLED} entries", field="enrolled")
        ways.append(parse_way(value))
    return frozenset(ways)


def _delivery(delivery: object) -> str | None:
    if delivery is None:
        return None
    if isinstance(delivery, str) and delivery in _DELIVERY:
        return delivery
    raise InvalidInput(f"delivery is one of {sorted(_DELIVERY)} or None", field="delivery")


class LadderFlows:
    """The ladder's configuration and its one flow, :meth:`ways_in`."""

    def __init__(self, *, keyring: Keyring) -> None:
        if not isinstance(keyring, Keyring):
            raise ConfigurationError(
                "Ladder needs the verifiers' keyring "
                "(Keyring.from_string(...); Keyring.generate() only in tests)"
            )
        self.keyring = keyring

    def ways_in(
        self,
        subject: str,
        enrolled: Iterable[Way | str],
        *,
        delivery: str | None,
        level: AAL | int | str | None,
        passkey_level: AAL | int | str | None = None,
    ) -> Flow[Offer]:
        """Read the subject's lockout states and decide. Reads only: asking changes nothing."""
        subject = validate_subject(subject)
        ways = _enrolled(enrolled)
        delivered = _delivery(delivery)
        wanted = parse_level(level)
        try:
            passkey = parse_level(passkey_level) or AAL.AAL2
        except InvalidInput:
            passkey = AAL.AAL1  # refused just below, under its own name
        if passkey is AAL.AAL1:
            raise InvalidInput(
                "passkey_level is AAL2 or AAL3 (verifykit.passkey.assurance)", field="passkey_level"
            )
        tag = subject_tag(self.keyring, subject)
        budget: FailureState = yield store_op.failure_state(budget_key(tag))
        own: dict[Way, FailureState] = {}
        if budget.allowed:  # a locked budget closes every way; no need to read further
            for way in _ORDER:
                if way in ways and way in OWN_COUNT:
                    own[way] = yield store_op.failure_state(lockout_key(way, tag))
        waits = [budget, *own.values()]
        now: float = (yield store_op.now()) if any(s.retry_after > 0 for s in waits) else 0.0
        return decide(
            ways, delivery=delivered, level=wanted, budget=budget, own=own, now=now, passkey=passkey
        )
