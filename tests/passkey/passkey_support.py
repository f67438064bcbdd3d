"""Passkey verifiers of one flavour, and the ceremonies run end to end with a software authenticator."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from authenticator import ORIGIN, RP_ID, SoftAuthenticator

from flavours import Flavour
from verifykit import AuditEvent, Keyring, Verdict
from verifykit.passkey import AsyncPasskeyVerifier, PasskeyEnrollment, PasskeySettings, PasskeyVerifier
from verifykit.store import FailureState

__all__ = ["SETTINGS", "Build", "Enrolled"]

SETTINGS = PasskeySettings(rp_id=RP_ID, rp_name="Example", origins=(ORIGIN, "https://login.example.com"))

_EVENTS: Any = object()  # "audit to the test's events"


class Enrolled:
    """A subject with one registered passkey: its authenticator and what the caller stored."""

    def __init__(self, passkeys: PasskeyVerifier, subject: str, authenticator: SoftAuthenticator) -> None:
        self.passkeys = passkeys
        self.subject = subject
        self.authenticator = authenticator
        options = passkeys.registration_options(subject, user_name="ana@example.com", display_name="Ana")
        self.enrollment: PasskeyEnrollment = passkeys.register(
            subject, options.challenge_id, authenticator.create(options.options_json)
        )
        assert self.enrollment.approved, self.enrollment
        assert self.enrollment.stored is not None
        self.stored: str = self.enrollment.stored

    def begin(self) -> tuple[str, str]:
        """A new sign-in: the challenge id and the options for the browser."""
        options = self.passkeys.authentication_options(self.subject, credentials=[self.stored])
        return options.challenge_id, options.options_json

    def sign_in(self, *, client: str | None = None, keep: bool = True, **get: Any) -> Verdict:
        """A whole sign-in; ``get`` tunes what the authenticator answers. An approval's new
        credential replaces the stored one, as a caller would do, unless ``keep`` is false."""
        challenge_id, options = self.begin()
        verdict = self.passkeys.verify(
            self.subject,
            challenge_id,
            self.authenticator.get(options, **get),
            credentials=[self.stored],
            client=client,
        )
        if keep and verdict.approved and verdict.stored is not None:
            assert isinstance(verdict.stored, str)
            self.stored = verdict.stored
        return verdict


class Build:
    """Passkey verifiers of the test's flavour on one store, auditing to ``events`` unless told
    otherwise; keywords other than ``audit`` are fields of :data:`SETTINGS`."""

    def __init__(self, flavour: Flavour, store: Any, keyring: Keyring, events: list[AuditEvent]) -> None:
        self.flavour = flavour
        self.store = store
        self.keyring = keyring
        self._events = events

    def passkeys(self, *, audit: Any = _EVENTS, **fields: Any) -> PasskeyVerifier:
        return self.flavour.build(
            PasskeyVerifier,
            AsyncPasskeyVerifier,
            store=self.store,
            keyring=self.keyring,
            settings=replace(SETTINGS, **fields),
            audit=self._events.append if audit is _EVENTS else audit,
        )

    def failure_state(self, key: str) -> FailureState:
        """The store's failure count on ``key``, read in the store's own flavour."""
        if self.flavour.is_async:
            state: FailureState = self.flavour.loop.run(self.store.failure_state(key))
            return state
        return self.store.failure_state(key)  # type: ignore[no-any-return]

    def enrolled(
        self, subject: str = "user-1", passkeys: PasskeyVerifier | None = None, **authenticator: Any
    ) -> Enrolled:
        return Enrolled(passkeys or self.passkeys(), subject, SoftAuthenticator(**authenticator))
