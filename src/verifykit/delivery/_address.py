"""Email destinations: validated and normalized once, shown only masked.

An address reaches SMTP commands and message headers, so anything that could smuggle a
second recipient or a header (CR/LF, ``<``, ``,``, quotes, control characters) is refused
rather than escaped. Error messages describe the problem without repeating the address,
so they are safe to log.

Two forms come out of an address. :func:`normalize_email` is where mail goes: the address as
given, with only its domain encoded. :func:`canonical_mailbox` names the *mailbox* behind it,
for counting: every spelling that reaches one inbox (case, Unicode compatibility forms,
``+tags``, a provider's own rules such as Gmail ignoring dots) gets one name, so a send limit
keyed on it cannot be walked around by respelling the victim's address.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .._errors import ConfigurationError, InvalidInput

__all__ = [
    "MAX_ADDRESS_LENGTH",
    "MAX_LOCAL_LENGTH",
    "MailboxRules",
    "ProviderRule",
    "canonical_mailbox",
    "is_unsafe_char",
    "mask_email",
    "normalize_email",
]

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


def _check_separators(separators: object) -> None:
    if not isinstance(separators, str):
        raise ConfigurationError("tag separators are a string of symbols, e.g. '+' or '+-'")
    for ch in separators:
        if ch not in _LOCAL_ASCII or ch == "." or ch.isalnum():
            raise ConfigurationError(
                f"a tag separator must be a symbol allowed before the '@' (not a dot): {ch!r}"
            )


def _rule_domain(domain: str) -> str:
    try:
        return _normalize_domain(domain.strip())
    except InvalidInput:
        raise ConfigurationError(f"mailbox rule domain {domain!r} is not a valid domain") from None


@dataclass(frozen=True, slots=True)
class ProviderRule:
    """How one mail domain maps addresses onto mailboxes.

    - ``tag_separators``: characters that start a sub-address (``alice+news`` reaches ``alice``).
    - ``ignore_dots``: dots in the local part do not matter (Gmail: ``a.lice`` reaches ``alice``).
    - ``same_as``: another domain that delivers to the same mailboxes (``googlemail.com`` is
      ``gmail.com``); that domain is what the canonical form names.
    """

    tag_separators: str = "+"
    ignore_dots: bool = False
    same_as: str | None = None

    def __post_init__(self) -> None:
        _check_separators(self.tag_separators)
        if self.same_as is not None:
            object.__setattr__(self, "same_as", _rule_domain(self.same_as))


def _default_providers() -> Mapping[str, ProviderRule]:
    return {
        "gmail.com": ProviderRule(ignore_dots=True),
        "googlemail.com": ProviderRule(ignore_dots=True, same_as="gmail.com"),
    }


@dataclass(frozen=True, slots=True)
class MailboxRules:
    """Which spellings of an address count as one mailbox, for limits (never for delivery).

    ``tag_separators`` (default ``"+"``) applies to every domain without a rule of its own;
    ``providers`` maps a domain (any spelling: Unicode or ``xn--``, any case) to its
    :class:`ProviderRule`. The default knows Gmail (dots ignored, ``googlemail.com`` is
    ``gmail.com``). Add rules for the providers your users have, keeping the default ones with
    ``providers={**MailboxRules().providers, "example.org": ProviderRule(tag_separators="+-")}``;
    pass ``providers={}`` to keep only ``tag_separators``.

    Erring towards merging is safe here: two spellings wrongly merged share one limit, while
    two wrongly kept apart double what an attacker may send to one inbox.
    """

    tag_separators: str = "+"
    providers: Mapping[str, ProviderRule] = field(default_factory=_default_providers)

    def __post_init__(self) -> None:
        _check_separators(self.tag_separators)
        providers: dict[str, ProviderRule] = {}
        for domain, rule in self.providers.items():
            if not isinstance(rule, ProviderRule):
                raise ConfigurationError("mailbox rules map a domain to a ProviderRule")
            providers[_rule_domain(domain)] = rule
        object.__setattr__(self, "providers", MappingProxyType(providers))


def canonical_mailbox(address: str, rules: MailboxRules | None = None) -> str:
    """The one name of the mailbox ``address`` reaches, for keying send limits.

    The address is validated as :func:`normalize_email` does, then its local part is
    NFKC-normalized and case-folded (full-width letters are ASCII ones; mail servers treat
    local parts case-insensitively in practice), a sub-address tag is cut off, and the domain's
    :class:`ProviderRule` applies. The domain is the IDNA form mail is sent to (Python's
    ``idna`` codec, IDNA 2003 with nameprep), so ``bücher.de``, ``BÜCHER.DE``, full-width
    spellings and ``xn--bcher-kva.de`` are one domain. The result is itself a valid address
    that canonicalizes to itself, but it names a mailbox for counting: never send mail to it.

    A local part whose compatibility form holds a character refused in addresses (a
    full-width at sign or comma, a space) is refused with :class:`~verifykit.InvalidInput`:
    such an address only looks like another one.
    """
    rules = rules if rules is not None else _DEFAULT_RULES
    local, _, domain = normalize_email(address).rpartition("@")
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", local).casefold())
    if any(is_unsafe_char(ch) for ch in folded):
        raise _bad("the part before the '@' contains a character that reads as a space or control")
    _check_local(folded)
    rule = rules.providers.get(domain)
    separators = rules.tag_separators if rule is None else rule.tag_separators
    # A separator in first place starts no tag (nothing would be left to name the mailbox).
    cut = min((i for i in (folded.find(sep, 1) for sep in separators) if i > 0), default=len(folded))
    # A dot left last by the cut is dropped: "a.+x" is "a", and the result stays a valid address.
    mailbox = folded[:cut].rstrip(".")
    if rule is not None:
        if rule.ignore_dots:
            mailbox = mailbox.replace(".", "")
        domain = rule.same_as or domain
    canonical = f"{mailbox}@{domain}"
    if len(canonical) > MAX_ADDRESS_LENGTH:  # compatibility forms may be longer than the original
        raise _bad(f"its canonical form is longer than {MAX_ADDRESS_LENGTH} characters")
    return canonical


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


_DEFAULT_RULES = MailboxRules()
