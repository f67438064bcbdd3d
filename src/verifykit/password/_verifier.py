"""PasswordVerifier: policy on set, argon2id with transparent upgrade on verify, throttling on
the shared store, and a memory budget so a flood of logins cannot exhaust the machine."""

from __future__ import annotations

from collections.abc import Sequence

from .._audit import DEFAULT_AUDIT_SINK, AuditEvent, AuditSink, emit
from .._charged import charge_client, locked_verdict, validate_client, wrong_verdict
from .._errors import BusyError, ConfigurationError, InvalidInput
from .._subject import lockout_key, subject_tag, validate_subject
from .._verdict import Fallback, Reason, Verdict, WaysIn
from ..crypto import Keyring
from ..store import ChallengeStore, LockoutPolicy, MemoryStore, WindowPolicy
from ._blocklist import Blocklist
from ._budget import MemoryBudget, default_memory_budget
from ._hasher import PasswordHasher, StoredHash, parse_hash
from ._policy import PasswordPolicy, PolicyResult, PolicyViolation, normalize_password
from ._profiles import DEFAULT_PRESET, HashParameters, resolve_parameters

__all__ = ["DEFAULT_CLIENT_LIMIT", "DEFAULT_LOCKOUT", "PasswordVerifier"]

VERIFIER = "password"

#: Per subject: from the 10th consecutive failure a pause of 60 s, doubling up to an hour; at 100
#: consecutive failures the subject stays locked until a success another way in resets it
#: (NIST SP 800-63B: no more than 100 consecutive failed attempts).
DEFAULT_LOCKOUT = LockoutPolicy(threshold=10, lockout=60, lockout_max=3600, hard_cap=100)
#: Per client address: 100 failed verifies per 10 minutes, across all subjects (a password spray
#: from one address). Generous, because many people can share one address.
DEFAULT_CLIENT_LIMIT = WindowPolicy(limit=100, window=600)
DEFAULT_BUSY_TIMEOUT = 5.0


def _default_ways_in(_subject: str) -> Sequence[Fallback]:
    return (Fallback.RECOVERY_CODE, Fallback.ASSISTED_CHECK)


class PasswordVerifier:
    """Hash new passwords and verify them, the way NIST SP 800-63B and RFC 9106 ask.

    verifykit owns no user table: :meth:`hash` returns a PHC string for the caller to store,
    and :meth:`verify` takes it back. A wrong password is a :class:`~verifykit.Verdict`;
    a password that breaks the policy raises :class:`PolicyViolation`; a flood beyond the
    memory budget raises :class:`~verifykit.BusyError`; a store that does not answer raises
    :class:`~verifykit.StoreUnavailable` (nothing is approved).

    ``memory_budget`` (bytes) bounds the argon2 memory in flight in this process (default: a
    quarter of physical memory); callers beyond it wait up to ``busy_timeout`` seconds.
    ``ways_in(subject)`` names the other ways in a locked-out subject can be offered.
    """

    def __init__(
        self,
        *,
        store: ChallengeStore | None = None,
        keyring: Keyring | None = None,
        preset: str | HashParameters = DEFAULT_PRESET,
        policy: PasswordPolicy | None = None,
        pepper: bool = False,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        memory_budget: int | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        lockout: LockoutPolicy | None = None,
        client_limit: WindowPolicy | None = DEFAULT_CLIENT_LIMIT,
        service_name: str = "",
        ways_in: WaysIn | None = None,
        blocklist: Blocklist | None = None,
    ) -> None:
        if not busy_timeout >= 0:
            raise ConfigurationError("busy_timeout must be a number of seconds >= 0")
        self.store = store if store is not None else MemoryStore()
        self.keyring = keyring if keyring is not None else Keyring.generate()
        self.parameters = resolve_parameters(preset)
        self.policy = policy if policy is not None else PasswordPolicy()
        self.hasher = PasswordHasher(self.parameters, keyring=self.keyring, pepper=pepper)
        self.audit = audit
        self.budget = MemoryBudget(memory_budget if memory_budget is not None else default_memory_budget())
        self.busy_timeout = float(busy_timeout)
        self.lockout = lockout if lockout is not None else DEFAULT_LOCKOUT
        self.client_limit = client_limit
        self.service_name = service_name
        self._ways_in: WaysIn = ways_in if ways_in is not None else _default_ways_in
        self._blocklist = blocklist

    # -- policy ----------------------------------------------------------------------------------

    def _context(self, subject: str | None, context: Sequence[str]) -> list[str]:
        if isinstance(context, str):
            raise InvalidInput("context must be a sequence of words, not one string", field="context")
        words = list(context)
        if subject is not None:
            words.append(validate_subject(subject))
        if self.service_name:
            words.append(self.service_name)
        return words

    def check_policy(
        self, password: str, *, subject: str | None = None, context: Sequence[str] = ()
    ) -> PolicyResult:
        """Whether ``password`` may be set for ``subject``; the result names the rule it fails."""
        return self.policy.check(password, context=self._context(subject, context), blocklist=self._blocklist)

    # -- hashing ---------------------------------------------------------------------------------

    def hash(self, password: str, *, subject: str | None = None, context: Sequence[str] = ()) -> str:
        """Check the policy, then return an argon2id PHC string to store.

        Raises :class:`PolicyViolation` (``.rule``, ``.result``) when the policy refuses.
        """
        result = self.check_policy(password, subject=subject, context=context)
        if not result.ok:
            emit(
                self.audit,
                AuditEvent("set", VERIFIER, subject or "", "refused", reason=result.rule or ""),
            )
            raise PolicyViolation(result.message, rule=result.rule or "", result=result)
        normalized = normalize_password(password)
        with self.budget.reserve(self.parameters.memory_bytes, self.busy_timeout):
            encoded = self.hasher.hash_normalized(normalized)
        emit(self.audit, AuditEvent("set", VERIFIER, subject or "", "hashed"))
        return encoded

    # -- verifying -------------------------------------------------------------------------------

    def verify(
        self, subject: str, stored_hash: str | None, password: str, *, client: str | None = None
    ) -> Verdict:
        """Verify ``password`` for ``subject`` against the hash the caller stored.

        Pass ``stored_hash=None`` for a subject that does not exist: the same work is spent on
        a dummy hash and the answer is ``wrong_password``, so neither the verdict nor the time
        it takes tells which accounts exist. A success whose hash is outdated carries
        ``upgraded_hash``: store it in place of the old one.
        """
        subject = validate_subject(subject)
        normalize_password(password)
        parsed = parse_hash(stored_hash) if stored_hash is not None else None
        target = parsed if parsed is not None else self.hasher.dummy()
        self.hasher.check_usable(target)
        if client is not None:
            validate_client(client)

        # The client's window is charged before any hashing, so however many verifies race, at
        # most `limit` are hashed; it is given back on success and on a lockout refusal (nothing
        # hashed). A verify refused as busy keeps its charge: a flood spends its own window.
        client_charge = charge_client(self.store, VERIFIER, client, self.client_limit)
        if client_charge.refused:
            verdict = client_charge.verdict()
            self._event(subject, verdict, client, parsed)
            return verdict

        key = lockout_key(VERIFIER, subject_tag(self.keyring, subject))
        with self.budget.reserve(self.hasher.work_memory(target), self.busy_timeout):
            # Charged before the work and reset on success: the NIST cap of 100 consecutive
            # failures holds exactly however many verifies race.
            state = self.store.charge(key, self.lockout)
            if not state.allowed:
                client_charge.refund()  # nothing was hashed: not a failure of this client's
                verdict = locked_verdict(state, self._ways_in(subject))
                self._event(subject, verdict, client, parsed)
                return verdict
            matched = self.hasher.verify(target, password)

        if parsed is None or matched is None:
            verdict = wrong_verdict(Reason.WRONG_PASSWORD, state, self.lockout, self._ways_in(subject))
            self._event(subject, verdict, client, parsed)
            return verdict

        self.store.reset_failures(key)
        client_charge.refund()
        upgraded = None
        if matched > 0 or self.hasher.needs_rehash(parsed):
            try:
                with self.budget.reserve(self.parameters.memory_bytes, self.busy_timeout):
                    upgraded = self.hasher.hash_normalized(normalize_password(password))
            except BusyError:
                # The person is who they say; the rehash can wait for their next login.
                upgraded = None
        verdict = Verdict(True, Reason.APPROVED, upgraded_hash=upgraded)
        self._event(subject, verdict, client, parsed)
        return verdict

    def _event(self, subject: str, verdict: Verdict, client: str | None, parsed: StoredHash | None) -> None:
        details = {"scheme": parsed.scheme.value if parsed is not None else "none"}
        if verdict.upgraded_hash is not None:
            details["upgraded"] = "true"
        emit(
            self.audit,
            AuditEvent(
                action="verify",
                verifier=VERIFIER,
                subject=subject,
                outcome="approved" if verdict.approved else "denied",
                reason=verdict.reason.value,
                client=client,
                details=details,
            ),
        )
