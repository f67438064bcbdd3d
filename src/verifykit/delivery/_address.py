"""Email destinations: validated and normalized once, shown only masked.

An address reaches SMTP commands and message headers, so anything that could smuggle a
second recipient or a header (CR/LF, ``<``, ``,``, quotes, control characters) is refused
rather than escaped. Error messages describe the problem without repeating the address,
so they are safe to log.
"""

from __future__ import annotations

import re
import unicodedata

from .._errors import InvalidInput

__all__ = ["MAX_ADDRESS_LENGTH", "MAX_LOCAL_LENGTH", "is_unsafe_char", "mask_email", "normalize_email"]

MAX_ADDRESS_LENGTH = 254  # RFC 5321 path limit (256) less the angle brackets
MAX_LOCAL_LENGTH = 64  # RFC 5321, in octets
_MAX_DOMAIN_LENGTH = 253

# RFC 5322 atext plus the dot; non-ASCII characters are allowed too (RFC 6531 addresses).
_LOCAL_ASCII = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def _bad(reason: str) -> InvalidInput:
    return InvalidInput(f"invalid email address: {reason}", field="email")


def is_unsafe_char(ch: str) -> bool:
    """Whitespace and every Unicode "other" character (controls, format, unassigned, surrogates)."""
    return ch.isspace() or unicodedata.category(ch).startswith("C")


def _check_local(local: str) -> None:
    if not local:
        raise _bad("nothing before the '@'")
    if len(local.encode("utf-8", "surrogatepass")) > MAX_LOCAL_LENGTH:
        raise _bad(f"the part before the '@' is longer than {MAX_LOCAL_LENGTH} bytes")
    if any(ch.isascii() and ch not in _LOCAL_ASCII for ch in local):
        raise _bad("the part before the '@' contains a character that is not allowed")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise _bad("the part before the '@' has a misplaced dot")


def _normalize_domain(domain: str) -> str:
    if not domain:
        raise _bad("nothing after the '@'")
    try:
        # The "idna" codec (IDNA 2003 with nameprep) also maps ideographic full stops to dots.
        ascii_domain = domain.lower().encode("idna").decode("ascii")
    except UnicodeError:
        raise _bad("the domain is not a valid internationalized domain name") from None
    ascii_domain = ascii_domain.lower()
    labels = ascii_domain.split(".")
    if len(labels) < 2:
        raise _bad("the domain has no dot")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise _bad("the domain has an empty, too long or malformed label")
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                raise _bad("the domain has an invalid punycode label") from None
    if labels[-1].isdigit():
        raise _bad("the domain ends in a number (IP addresses are not accepted)")
    return ascii_domain


def normalize_email(address: str) -> str:
    """Validate a destination address and return its normal form.

    Surrounding whitespace is stripped, the domain is lowercased and IDNA-encoded
    (``bücher.de`` becomes ``xn--bcher-kva.de``), and the local part is kept as given
    because only the receiving server may interpret it. The result is idempotent:
    normalizing it again returns it unchanged.

    Raises :class:`~verifykit.InvalidInput` (``field="email"``) for anything that is not a
    plain ``local@domain`` address of at most 254 characters.
    """
    if not isinstance(address, str):
        raise _bad("expected a string")
    candidate = address.strip()
    if not candidate:
        raise _bad("it is empty")
    if len(candidate) > MAX_ADDRESS_LENGTH:
        raise _bad(f"it is longer than {MAX_ADDRESS_LENGTH} characters")
    if any(is_unsafe_char(ch) for ch in candidate):
        raise _bad("it contains spaces, line breaks or control characters")
    if candidate.count("@") != 1:
        raise _bad("it must contain exactly one '@'")
    local, domain = candidate.split("@")
    _check_local(local)
    normalized = f"{local}@{_normalize_domain(domain)}"
    if len(normalized) > MAX_ADDRESS_LENGTH:
        raise _bad(f"its encoded form is longer than {MAX_ADDRESS_LENGTH} characters")
    return normalized


def mask_email(address: str) -> str:
    """Show a destination without revealing it: ``alice@example.com`` -> ``a***@example.com``.

    Safe on any input, valid or not: the result never contains whitespace or control
    characters, so it can go into logs and audit events.
    """
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    first = local[:1] if local and not is_unsafe_char(local[0]) else "*"
    if not domain or len(domain) > _MAX_DOMAIN_LENGTH or any(is_unsafe_char(ch) for ch in domain):
        domain = "***"
    return f"{first}***@{domain}"
