"""Delivery: getting a one-time code into a person's mailbox, or saying clearly why not.

Mailers share one protocol (:class:`Mailer`): :class:`SMTPMailer` for production,
:class:`FallbackMailer` to chain a second route, and :class:`Outbox`,
:class:`ConsoleMailer` and :class:`FileMailer` for tests and development.
:func:`render_otp_email` builds the message in every :data:`SUPPORTED_LOCALES`;
:func:`normalize_email` and :func:`mask_email` handle destinations, and
:func:`canonical_mailbox` names the mailbox behind one (under :class:`MailboxRules`) for limits;
:func:`code_in` reads the code back out of a message (tests, tools). The asyncio mailers
(:class:`AsyncSMTPMailer`, :class:`AsyncFallbackMailer`) speak the same conversation.
"""

from __future__ import annotations

from ._address import MailboxRules, ProviderRule, canonical_mailbox, mask_email, normalize_email
from ._aio import AsyncFallbackMailer, AsyncMailer, AsyncSMTPMailer
from ._mailers import ConsoleMailer, FallbackMailer, FileMailer, Mailer, Outbox
from ._smtp import SMTPMailer
from ._templates import SUPPORTED_LOCALES, OTPEmailTemplate, code_in, prepare_otp_email, render_otp_email

__all__ = [
    "SUPPORTED_LOCALES",
    "AsyncFallbackMailer",
    "AsyncMailer",
    "AsyncSMTPMailer",
    "ConsoleMailer",
    "FallbackMailer",
    "FileMailer",
    "MailboxRules",
    "Mailer",
    "OTPEmailTemplate",
    "Outbox",
    "ProviderRule",
    "SMTPMailer",
    "canonical_mailbox",
    "code_in",
    "mask_email",
    "normalize_email",
    "prepare_otp_email",
    "render_otp_email",
]
