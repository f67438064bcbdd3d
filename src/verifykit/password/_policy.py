"""The password policy of NIST SP 800-63B (revision 4, section 3.1.1.2), as pure functions.

Length rules and a blocklist, no composition rules: "must contain a digit" makes passwords
more predictable, not stronger. Every password is NFKC-normalized first, the same way when it
is set and when it is verified, so the same characters typed on another keyboard still match.
Nothing here logs or echoes a password: results name the rule, never the input.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .._errors import ConfigurationError, InvalidInput
from .._verdict import Reason
from ._blocklist import Blocklist, default_blocklist

__all__ = [
    "MAX_PASSWORD_BYTES",
    "PasswordPolicy",
    "PolicyResult",
    "PolicyViolation",
    "normalize_password",
]

#: Longer inputs are refused before any work: NIST asks for at least 64 characters, and 4 KiB is
#: far beyond any passphrase while small enough that hashing it costs nothing extra.
MAX_PASSWORD_BYTES = 4096
#: NIST SP 800-63B: verifiers SHALL accept at least 64 characters.
NIST_MIN_MAX_LENGTH = 64


_MESSAGES = {
    Reason.TOO_SHORT: "Use at least {min_length} characters; a longer passphrase is easier to remember.",
    Reason.TOO_LONG: "Use at most {max_length} characters.",
    Reason.BREACHED: (
        "This password is one of the most common passwords seen in data breaches; choose another."
    ),
    Reason.REPETITIVE: "This password repeats one character or pattern; choose something less predictable.",
    Reason.SEQUENTIAL: "This password is a run of consecutive characters (like 'abcdefgh' or '12345678').",
    Reason.CONTEXT: (
        "This password contains your user name, your email or this service's name; leave them out."
    ),
}


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """Whether a password meets the policy and, if not, the rule it fails (``reason``) and what
    to change (``message``, written for the person)."""

    approved: bool
    reason: Reason
    message: str = ""
    details: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.approved


class PolicyViolation(InvalidInput):
    """A new password does not meet the policy; ``reason`` says which rule it fails.

    The message is written for the person choosing the password and never contains it.
    """

    code = "weak_password"

    def __init__(
        self,
        message: str,
        *,
        reason: Reason,
        field: str | None = "password",
        result: PolicyResult | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.reason = reason
        self.result = result if result is not None else PolicyResult(False, reason, message)


def normalize_password(password: object) -> str:
    """NFKC-normalize a password, refusing non-strings and absurd sizes before any work.

    Raises :class:`PolicyViolation` (rule ``too_long``) over :data:`MAX_PASSWORD_BYTES`, and
    :class:`~verifykit.InvalidInput` for anything that is not text.
    """
    if not isinstance(password, str):
        raise InvalidInput("password must be a string", field="password")
    # A str of n code points is at least n bytes in UTF-8: refuse huge inputs before encoding.
    if len(password) > MAX_PASSWORD_BYTES:
        raise _too_long()
    try:
        raw_size = len(password.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput("password is not valid Unicode text", field="password") from None
    if raw_size > MAX_PASSWORD_BYTES:
        raise _too_long()
    normalized = unicodedata.normalize("NFKC", password)
    # NFKC can expand a character up to 18-fold; the cap holds for what is actually hashed.
    if len(normalized.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise _too_long()
    return normalized


def _too_long() -> PolicyViolation:
    return PolicyViolation(
        f"password is longer than {MAX_PASSWORD_BYTES} bytes; nothing was hashed", reason=Reason.TOO_LONG
    )


_KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "qwertzuiop", "azertyuiop")
_WORD_SPLIT = re.compile(r"[\W_]+")
_MIN_CONTEXT_WORD = 3
_MIN_CONTEXT_TOKEN = 4


def is_repetitive(text: str) -> bool:
    """One unit repeated ('aaaaaaaa', 'abcabcabc') or at most two distinct characters."""
    if len(set(text)) <= 2:
        return True
    n = len(text)
    return any(n % size == 0 and text[:size] * (n // size) == text for size in range(1, n // 2 + 1))


def is_sequential(text: str) -> bool:
    """A run of consecutive code points up or down ('abcdefgh', '87654321'), or a stretch of one
    keyboard row ('qwertyui', 'lkjhgfds')."""
    if len(text) < 3:
        return False
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(text)}
    if steps in ({1}, {-1}):
        return True
    return any(text in row or text in row[::-1] for row in _KEYBOARD_ROWS)


def context_words(values: Iterable[str]) -> list[str]:
    """Words a password must not contain: each value, an email's local part, and their longer
    pieces ('ana.lopez@example.com' gives 'ana.lopez@example.com', 'ana.lopez', 'lopez')."""
    words: set[str] = set()
    for value in values:
        if not isinstance(value, str):
            raise InvalidInput("context words must be strings", field="context")
        folded = unicodedata.normalize("NFKC", value).casefold().strip()
        if not folded:
            continue
        words.add(folded)
        local, at, _domain = folded.partition("@")
        if at:
            words.add(local)
        words.update(t for t in _WORD_SPLIT.split(local) if len(t) >= _MIN_CONTEXT_TOKEN)
    return sorted(w for w in words if len(w) >= _MIN_CONTEXT_WORD)


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """NIST SP 800-63B password rules. Validated once, here.

    - ``min_length=8`` characters (Unicode code points after NFKC). NIST asks for 15 when the
      password is the only factor: use ``PasswordPolicy(min_length=15)`` there.
    - ``max_length=256`` characters: the longest password accepted (NIST: at least 64); the
      hard cap of :data:`MAX_PASSWORD_BYTES` bytes applies whatever this says.
    - ``blocklist``: refuse the 100,000 most common breached passwords (compared case-folded).
    - ``repetitive`` / ``sequential``: refuse 'aaaaaaaa', 'abcabcabc', '12345678', 'qwertyui'.
    - ``context``: refuse passwords that contain the subject, an email's local part, the service
      name or other caller-supplied words (3 characters or more, compared case-folded).
    """

    min_length: int = 8
    max_length: int = NIST_MIN_MAX_LENGTH * 4
    blocklist: bool = True
    repetitive: bool = True
    sequential: bool = True
    context: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.min_length, bool) or not isinstance(self.min_length, int) or self.min_length < 1:
            raise ConfigurationError("min_length must be a positive integer")
        if not NIST_MIN_MAX_LENGTH <= self.max_length <= MAX_PASSWORD_BYTES:
            raise ConfigurationError(
                f"max_length must be between {NIST_MIN_MAX_LENGTH} (NIST SP 800-63B) and {MAX_PASSWORD_BYTES}"
            )
        if self.min_length > self.max_length:
            raise ConfigurationError("min_length must not exceed max_length")

    def check(
        self,
        password: object,
        *,
        context: Sequence[str] = (),
        blocklist: Blocklist | None = None,
    ) -> PolicyResult:
        """Check a candidate password; the result names the first rule it fails."""
        try:
            normalized = normalize_password(password)
        except PolicyViolation as exc:
            return exc.result
        folded = normalized.casefold()
        words = context_words(context) if self.context else []
        listed = None
        if self.blocklist:
            listed = blocklist if blocklist is not None else default_blocklist()
        # In order: the first rule that fails is the one the person is told about.
        checks: tuple[tuple[Reason, Callable[[], bool]], ...] = (
            (Reason.TOO_SHORT, lambda: len(normalized) < self.min_length),
            (Reason.TOO_LONG, lambda: len(normalized) > self.max_length),
            (Reason.BREACHED, lambda: listed is not None and folded in listed),
            (Reason.REPETITIVE, lambda: self.repetitive and is_repetitive(folded)),
            (Reason.SEQUENTIAL, lambda: self.sequential and is_sequential(folded)),
            (Reason.CONTEXT, lambda: any(word in folded for word in words)),
        )
        for rule, fails in checks:
            if fails():
                return self._fail(rule)
        return PolicyResult(True, Reason.APPROVED)

    def _fail(self, rule: Reason) -> PolicyResult:
        message = _MESSAGES[rule].format(min_length=self.min_length, max_length=self.max_length)
        return PolicyResult(False, rule, message)

    def enforce(
        self, password: object, *, context: Sequence[str] = (), blocklist: Blocklist | None = None
    ) -> None:
        """Raise :class:`PolicyViolation` unless the password meets the policy."""
        result = self.check(password, context=context, blocklist=blocklist)
        if not result.approved:
            raise PolicyViolation(result.message, reason=result.reason, result=result)
