"""Passwords, written once: the flows behind both :class:`verifykit.password.PasswordVerifier`
and :class:`verifykit.aio.PasswordVerifier`.

Each flow (see :mod:`verifykit._flow`) validates, decides, and yields what it needs: store
operations, a slot in the memory budget, the argon2 work (it releases the GIL, so the async
driver runs it in a thread), audit events. Nothing here does I/O, so the two flavours cannot
drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._audit import AuditSink
from .._charged import (
    charge_client_flow,
    charge_subject_flow,
    decision_step,
    refund_flow,
    reset_subject_flow,
    validate_client,
)
from .._errors import BusyError, ConfigurationError, InvalidInput
from .._flow import Emit, Flow, Release, Reserve, Work, WorkKind
from .._shell import require
from .._subject import subject_tag, validate_subject
from .._verdict import Reason, Verdict, Way, WaysIn
from ..crypto import Keyring
from ._budget import MemoryBudget, default_memory_budget
from ._hasher import PasswordHasher, StoredHash, parse_hash
from ._policy import PolicyResult, PolicyViolation, normalize_password
from ._profiles import HashParameters
from ._settings import PasswordSettings

__all__ = ["PasswordFlows", "PasswordShell", "default_ways_in"]

_VERIFIER = Way.PASSWORD


def default_ways_in(_subject: str) -> Sequence[Way]:
    """What a locked-out subject is offered unless the caller says otherwise."""
    return (Way.RECOVERY_CODE, Way.COUNTER_VOUCHER)


class PasswordFlows:
    """The configuration of a password verifier and its flows, ``hash`` and ``verify``."""

    def __init__(
        self, *, keyring: Keyring, settings: PasswordSettings | None, ways_in: WaysIn | None
    ) -> None:
        if not isinstance(keyring, Keyring):
            raise ConfigurationError(
                "PasswordVerifier needs a keyring "
                "(Keyring.from_string(...); Keyring.generate() only in tests)"
            )
        if settings is not None and not isinstance(settings, PasswordSettings):
            raise ConfigurationError("settings must be PasswordSettings")
        self.keyring = keyring
        self.settings = settings if settings is not None else PasswordSettings()
        self.parameters = self.settings.parameters
        self.hasher = PasswordHasher(self.parameters, keyring=keyring, pepper=self.settings.pepper)
        self.ways_in: WaysIn = ways_in if ways_in is not None else default_ways_in

    # -- policy (no I/O at all) ------------------------------------------------------------------

    def _context(self, subject: str | None, context: Sequence[str]) -> list[str]:
        if isinstance(context, str):
            raise InvalidInput("context must be a sequence of words, not one string", field="context")
        words = list(context)
        if subject is not None:
            words.append(validate_subject(subject))
        if self.settings.service_name:
            words.append(self.settings.service_name)
        return words

    def check_policy(self, password: str, *, subject: str | None, context: Sequence[str]) -> PolicyResult:
        settings = self.settings
        return settings.policy.check(
            password, context=self._context(subject, context), blocklist=settings.blocklist
        )

    # -- flows -----------------------------------------------------------------------------------

    def hash(self, password: str, *, subject: str | None, context: Sequence[str]) -> Flow[str]:
        result = self.check_policy(password, subject=subject, context=context)
        if not result.approved:
            yield decision_step(_VERIFIER, "set", subject or "", "refused", reason=result.reason, client=None)
            raise PolicyViolation(result.message, reason=result.reason, result=result)
        normalized = normalize_password(password)
        slot = yield Reserve(self.parameters.memory_bytes, self.settings.busy_timeout)
        encoded: str = yield Work(self.hasher.hash_normalized, (normalized,), WorkKind.RELEASES_GIL)
        yield Release(slot)
        yield decision_step(_VERIFIER, "set", subject or "", "hashed", reason="", client=None)
        return encoded

    def _match(self, parsed: StoredHash | None, password: str) -> int | None:
        """The heavy part: a subject that does not exist is checked against the dummy hash (made
        once, here, off the event loop), so it spends the work a real one does."""
        target = parsed if parsed is not None else self.hasher.dummy()
        return self.hasher.verify(target, password)

    def verify(
        self, subject: str, stored_hash: str | None, password: str, *, client: str | None
    ) -> Flow[Verdict]:
        subject = validate_subject(subject)
        normalize_password(password)
        parsed = parse_hash(stored_hash) if stored_hash is not None else None
        if parsed is not None:
            self.hasher.check_usable(parsed)
        if client is not None:
            validate_client(client)
        settings = self.settings
        ways_in = self.ways_in(subject)

        # The client's window is charged before any hashing, so however many verifies race, at
        # most `limit` are hashed; it is given back on success and on a lockout refusal (nothing
        # hashed). A verify refused as busy keeps its charge: a flood spends its own window.
        charge = yield from charge_client_flow(_VERIFIER, client, settings.client_limit)
        if charge.refused:
            return (yield from self._decided(subject, charge.verdict(), client, parsed))

        tag = subject_tag(self.keyring, subject)
        # The dummy has the preset's parameters, and a cheaper stored form is topped up to them:
        # either way the work holds at least the preset's memory, so admission tells nothing.
        memory = self.hasher.work_memory(parsed) if parsed is not None else self.parameters.memory_bytes
        slot = yield Reserve(memory, settings.busy_timeout)
        # Charged before the work (to the password's count and the subject's budget) and reset on
        # success: the NIST cap of 100 consecutive failures holds exactly however many verifies race.
        charged = yield from charge_subject_flow(_VERIFIER, tag, settings.lockout)
        if not charged.allowed:
            yield Release(slot)
            yield from refund_flow(charge)  # nothing was hashed: not a failure of this client's
            return (yield from self._decided(subject, charged.locked(ways_in), client, parsed))
        matched: int | None = yield Work(self._match, (parsed, password), WorkKind.RELEASES_GIL)
        yield Release(slot)

        if parsed is None or matched is None:
            verdict = charged.wrong(Reason.WRONG_PASSWORD, ways_in)
            return (yield from self._decided(subject, verdict, client, parsed))

        yield from reset_subject_flow(_VERIFIER, tag)
        yield from refund_flow(charge)
        stored = None
        if matched > 0 or self.hasher.needs_rehash(parsed):
            stored = yield from self._rehash(password)
        return (
            yield from self._decided(subject, Verdict(True, Reason.APPROVED, stored=stored), client, parsed)
        )

    def _rehash(self, password: str) -> Flow[str | None]:
        try:
            slot = yield Reserve(self.parameters.memory_bytes, self.settings.busy_timeout)
        except BusyError:
            return None  # the person is who they say; the rehash can wait for their next login
        encoded: str = yield Work(
            self.hasher.hash_normalized, (normalize_password(password),), WorkKind.RELEASES_GIL
        )
        yield Release(slot)
        return encoded

    def _decided(
        self, subject: str, verdict: Verdict, client: str | None, parsed: StoredHash | None
    ) -> Flow[Verdict]:
        details = {"scheme": parsed.scheme.value if parsed is not None else "none"}
        if verdict.stored is not None:
            details["upgraded"] = "true"
        outcome = "approved" if verdict.approved else "denied"
        step: Emit = decision_step(
            _VERIFIER, "verify", subject, outcome, reason=verdict.reason, client=client, **details
        )
        yield step
        return verdict


class PasswordShell:
    """What both flavours of ``PasswordVerifier`` hold: the flows, the store, the audit sink and
    the memory budget. ``store`` and ``keyring`` are required: verifykit never picks a secret or a
    place to keep state behind its caller's back (``verifykit.testing`` offers both for tests)."""

    def __init__(
        self,
        *,
        store: Any,
        keyring: Keyring,
        settings: PasswordSettings | None,
        audit: AuditSink | None,
        ways_in: WaysIn | None,
    ) -> None:
        require("PasswordVerifier", store=store, keyring=keyring)
        self._flows = PasswordFlows(keyring=keyring, settings=settings, ways_in=ways_in)
        budget = self._flows.settings.memory_budget
        self.store = store
        self.audit = audit
        self.budget = MemoryBudget(budget if budget is not None else default_memory_budget())

    @property
    def keyring(self) -> Keyring:
        return self._flows.keyring

    @property
    def settings(self) -> PasswordSettings:
        return self._flows.settings

    @property
    def parameters(self) -> HashParameters:
        """The argon2id parameters new hashes get."""
        return self._flows.parameters

    @property
    def hasher(self) -> PasswordHasher:
        return self._flows.hasher

    def check_policy(
        self, password: str, *, subject: str | None = None, context: Sequence[str] = ()
    ) -> PolicyResult:
        """Whether ``password`` may be set for ``subject``; the result names the rule it fails."""
        return self._flows.check_policy(password, subject=subject, context=context)
