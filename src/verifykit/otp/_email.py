"""Email one-time codes, the blocking flavour: each method runs one flow of :mod:`._core`."""

from __future__ import annotations

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._flow import FlowIO, run_sync
from .._verdict import Verdict, WaysIn
from ..crypto import Keyring
from ..delivery import Mailer
from ..store import ChallengeStore
from ._core import OTPShell
from ._decide import Challenge
from ._settings import OTPSettings

__all__ = ["EmailOTP"]


class EmailOTP(OTPShell):
    """One-time codes sent by email.

    Codes are stored only as HMAC-SHA256 digests bound to their challenge id, under a
    keyring key, and compared inside one atomic store step. A resend issues a *new* code with an
    expiry of its own; the codes of the last ``settings.live_sends`` sends (default 2) stay valid,
    each until its own expiry, because mail is often late. They share one attempt budget, which
    a resend does not restore; an approving verdict's ``details["send"]`` names the send used.

    ``store``, ``keyring`` and ``mailer`` are required (``verifykit.testing`` offers
    ``MemoryStore``, ``Keyring.generate()`` and ``Outbox`` for tests). ``ways_in(subject)``
    tells which other ways in a subject has (authenticator app, recovery codes, …); verdicts
    and challenges in trouble offer them. The default offers an assisted check at a counter,
    which every subject has. :class:`verifykit.aio.EmailOTP` is the same verifier for asyncio.
    """

    store: ChallengeStore
    mailer: Mailer

    def __init__(
        self,
        *,
        store: ChallengeStore,
        keyring: Keyring,
        mailer: Mailer,
        settings: OTPSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        ways_in: WaysIn | None = None,
    ) -> None:
        super().__init__(
            store=store, keyring=keyring, mailer=mailer, settings=settings, audit=audit, ways_in=ways_in
        )
        self._io = FlowIO(store=store, mailer=mailer, audit=audit)

    def start(
        self, subject: str, email: str, *, locale: str | None = None, client: str | None = None
    ) -> Challenge:
        """Send a code to ``email`` for ``subject`` and return the new challenge.

        A failed delivery does not raise: the challenge records it (``delivery == "failed"``)
        and offers other ways in, and :meth:`resend` works once the mail server is back.
        Raises :class:`~verifykit.InvalidInput` for a bad subject, address or locale (nothing is
        stored) and :class:`~verifykit.RateLimited` when a send limit refuses.
        """
        return run_sync(self._flows.start(subject, email, locale=locale, client=client), self._io)

    def check(self, challenge_id: str, code: str, *, client: str | None = None) -> Verdict:
        """Check a code. One atomic store step: it spends an attempt, applies the per-subject
        lockout, and approves at most once, however many checks race."""
        return run_sync(self._flows.check(challenge_id, code, client=client), self._io)

    def resend(self, challenge_id: str, *, client: str | None = None) -> Challenge:
        """Send a new code once the cooldown has passed; only the last ``live_sends`` codes stay valid.

        Raises :class:`~verifykit.RateLimited` (with ``retry_after``) while cooling down, at the
        send limits, or at ``max_sends``; :class:`~verifykit.ChallengeClosed` if it is finished.
        """
        return run_sync(self._flows.resend(challenge_id, client=client), self._io)

    def cancel(self, challenge_id: str) -> Challenge:
        """Close a pending challenge (idempotent: a closed one is returned as it is)."""
        return run_sync(self._flows.cancel(challenge_id), self._io)

    def status(self, challenge_id: str) -> Challenge:
        """The challenge as it stands, including delivery status and ways_in."""
        return run_sync(self._flows.status(challenge_id), self._io)
