"""Subjects: opaque caller-chosen ids, validated once and turned into store key tags."""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Iterable

from ._errors import InvalidInput
from ._verdict import Way, store_name
from .crypto import Keyring

__all__ = [
    "budget_key",
    "lockout_key",
    "stable_mac",
    "stable_tag",
    "subject_tag",
    "unlock_keys",
    "validate_subject",
]

MAX_SUBJECT_LENGTH = 256


def validate_subject(subject: object) -> str:
    """Return the subject if it is 1-256 printable characters; raise :class:`InvalidInput` otherwise."""
    if not isinstance(subject, str) or not subject:
        raise InvalidInput("subject must be a non-empty string", field="subject")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise InvalidInput(f"subject is longer than {MAX_SUBJECT_LENGTH} characters", field="subject")
    if any(unicodedata.category(ch).startswith("C") for ch in subject):
        raise InvalidInput("subject must not contain control characters", field="subject")
    return subject


def stable_mac(keyring: Keyring, purpose: str, value: str) -> bytes:
    """A keyed 128-bit MAC of ``value`` under the keyring's tag key (:func:`stable_tag`, as bytes).

    Sealing keys may be added or retired freely; the MAC changes only when the tag key does.
    """
    key = keyring.purpose_key_for_tags()
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()[:16]


def stable_tag(keyring: Keyring, purpose: str, value: str) -> str:
    """:func:`stable_mac` as lower-case base32 text, for store key names."""
    return base64.b32encode(stable_mac(keyring, purpose, value)).decode("ascii").rstrip("=").lower()


def subject_tag(keyring: Keyring, subject: str) -> str:
    """A stable, keyed, 128-bit tag for a subject.

    Store keys use it instead of the subject itself (no account ids in Redis key names),
    and as a Redis Cluster hash tag so a subject's counters and challenges share a slot.
    It comes from the keyring's dedicated tag key, so it survives rotating or retiring any
    sealing key; changing the tag key starts every subject's counters afresh.
    """
    return stable_tag(keyring, "subject", subject)


def lockout_key(way: Way, tag: str) -> str:
    """The store key counting one verifier's consecutive failures for a subject tag.

    Reset only by a success through that verifier: a success with one factor never buys more
    guesses at another (knowing the password does not refresh the authenticator-app count).
    """
    return f"{{{tag}}}:fail:{store_name(way)}"


def budget_key(tag: str) -> str:
    """The store key of a subject's one failure budget: every verifier's failures, whatever the
    method, so switching methods never multiplies guesses (NIST SP 800-63B-4 section 3.2.2: at
    most 100 consecutive failures per account). Any success resets it. It shares the subject's
    hash tag, so the email-code check charges it in the challenge's own atomic step."""
    return f"{{{tag}}}:fail"


def unlock_keys(tag: str, ways: Iterable[Way]) -> tuple[str, ...]:
    """Every key an unlock clears: the subject's budget and the named verifiers' own counts."""
    return (budget_key(tag), *(lockout_key(w, tag) for w in ways))
