"""Passkeys with blocking calls; :class:`~verifykit.passkey.AsyncPasskeyVerifier` has the same with
``async def``."""

from __future__ import annotations

from collections.abc import Sequence

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._shell import SyncShell
from .._verdict import Verdict, WaysIn
from ..crypto import Keyring
from ..store import ChallengeStore
from ._credential import PasskeyCredential
from ._flows import PasskeyEnrollment, PasskeyFlows, PasskeyOptions
from ._settings import PasskeySettings

__all__ = ["PasskeyVerifier"]


class PasskeyVerifier(SyncShell[PasskeyFlows]):
    """Passkeys (WebAuthn): phishing-resistant sign-in with a key the person's device holds.

    Each ceremony is two calls around the browser: ``registration_options`` then ``register``,
    ``authentication_options`` then ``verify``. verifykit keeps no user database: ``register``
    returns the credential to keep (``.stored``), and the caller passes a subject's stored
    credentials back in. Challenges live on the shared store, answer once, and expire after
    ``settings.challenge_ttl``; failures count in the subject's one failure budget.
    """

    def __init__(
        self,
        *,
        store: ChallengeStore,
        keyring: Keyring,
        settings: PasskeySettings,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        ways_in: WaysIn | None = None,
    ) -> None:
        super().__init__(
            "PasskeyVerifier",
            store=store,
            keyring=keyring,
            audit=audit,
            flows=lambda: PasskeyFlows(keyring=keyring, settings=settings, ways_in=ways_in),
        )

    @property
    def settings(self) -> PasskeySettings:
        return self._flows.settings

    def registration_options(
        self,
        subject: str,
        *,
        user_name: str,
        display_name: str,
        exclude: Sequence[str] = (),
        client: str | None = None,
    ) -> PasskeyOptions:
        """Begin making a passkey: options for ``navigator.credentials.create``. ``user_name`` and
        ``display_name`` are what the authenticator shows; ``exclude`` are the subject's stored
        passkeys, so an authenticator that holds one already is not registered twice. Raises
        :class:`~verifykit.RateLimited` past ``settings.options_limit`` for ``client``."""
        return self._run(
            self._flows.registration_options(
                subject, user_name=user_name, display_name=display_name, exclude=exclude, client=client
            )
        )

    def register(
        self, subject: str, challenge_id: str, response_json: str, *, client: str | None = None
    ) -> PasskeyEnrollment:
        """Check what ``navigator.credentials.create`` returned (``JSON.stringify(credential)``).
        Raises :class:`~verifykit.InvalidInput` for a response that is not one (nothing spent)."""
        return self._run(self._flows.register(subject, challenge_id, response_json, client=client))

    def authentication_options(
        self, subject: str, *, credentials: Sequence[str] = (), client: str | None = None
    ) -> PasskeyOptions:
        """Begin signing in: options for ``navigator.credentials.get`` allowing the subject's stored
        passkeys ``credentials``. Raises :class:`~verifykit.RateLimited` past
        ``settings.options_limit`` for ``client``."""
        return self._run(self._flows.authentication_options(subject, credentials=credentials, client=client))

    def verify(
        self,
        subject: str,
        challenge_id: str,
        response_json: str,
        *,
        credentials: Sequence[str],
        client: str | None = None,
    ) -> Verdict:
        """Check what ``navigator.credentials.get`` returned against the subject's stored passkeys.

        On approval ``details["credential_id"]`` names the passkey used and ``stored``, when not
        ``None``, replaces it (its new signature counter). Raises :class:`~verifykit.InvalidInput`
        for a response that is not one and :class:`~verifykit.TemplateError` for a stored passkey
        that is not this subject's or was changed (nothing is spent)."""
        return self._run(
            self._flows.verify(subject, challenge_id, response_json, credentials=credentials, client=client)
        )

    def credential(self, subject: str, stored: str) -> PasskeyCredential:
        """Read a stored passkey back (no store call), checking it is ``subject``'s and unchanged:
        for :func:`~verifykit.passkey.assurance` and for showing a person their passkeys."""
        return self._flows.credential(subject, stored)
