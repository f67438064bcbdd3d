"""The one-time-code email, in every supported language.

One layout for plain text and one for HTML; each locale supplies only its wording, so a
new language is one more :class:`_Wording` entry. Values are substituted with
:class:`string.Template` and, for HTML, escaped exactly once after substitution.

Everything that depends only on the sender, the code's lifetime, the locale and the service name
is prepared once (:func:`prepare_otp_email`, cached); a message then costs only what differs per
send: the recipient, the code, which send it is, and its date and id. The message is built the
way the email package reads one from the wire (headers as their wire text, bodies already
quoted-printable), so the package's slow header parsing runs only if something reads a header.

The code is deliberately not in the Subject: mail servers log subjects, and phones show
them on locked screens. What is in it, and in the body, is which send this is and when it was
requested ("code 2 of 2, requested 10:42 UTC"): not secret, and it lets a person holding two
messages (mail is often late) tell which is newest.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import html
import math
import re
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from string import Template

from .._errors import InvalidInput
from ._address import is_unsafe_char, normalize_email

__all__ = [
    "SUPPORTED_LOCALES",
    "OTPEmailTemplate",
    "code_in",
    "prepare_otp_email",
    "render_otp_email",
    "resolve_locale",
]

_MAX_SERVICE_NAME = 100
_CODE = re.compile(r"[0-9A-Za-z]{1,32}")
_UTF8_HEADERS = policy.default.clone(utf8=True)
# The plain-text layout puts the code alone on its own line.
_CODE_LINE = re.compile(r"^[ \t]*(\d{4,10})[ \t\r]*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class _Wording:
    subject: str
    heading: str
    validity: str
    advice: str
    ignore: str
    minute: tuple[str, str]  # singular, plural
    second: tuple[str, str]
    which: str  # the send number, its count at the time, and when it was requested
    newest: str  # a sentence that says which of several messages to use
    clock: str  # strftime format of a time of day, in the language's convention

    def duration(self, ttl_seconds: float) -> str:
        """Rounded down, so the email never promises more time than the code really has."""
        if ttl_seconds >= 60:
            count, (one, many) = int(ttl_seconds // 60), self.minute
        else:
            count, (one, many) = max(1, int(ttl_seconds)), self.second
        return f"{count} {one if count == 1 else many}"


_WORDING: dict[str, _Wording] = {
    "en": _Wording(
        subject="Your $service verification code",
        heading="Your $service verification code is:",
        validity="This code is valid for $duration. Enter it where you asked for it.",
        advice="Never share it: $service staff will never ask you for this code.",
        ignore="If you did not ask for a code, you can ignore this email; nothing changes without it.",
        minute=("minute", "minutes"),
        second=("second", "seconds"),
        which="code $send of $sends, requested $time",
        newest="This is $which. If you asked more than once, the newest code is the one to use.",
        clock="%H:%M",
    ),
    "id": _Wording(
        subject="Kode verifikasi $service Anda",
        heading="Kode verifikasi $service Anda:",
        validity="Kode ini berlaku selama $duration. Masukkan kode ini di tempat Anda memintanya.",
        advice="Jangan berikan kode ini kepada siapa pun: petugas $service tidak akan pernah memintanya.",
        ignore="Jika Anda tidak meminta kode, abaikan email ini; tidak ada yang berubah tanpa kode ini.",
        minute=("menit", "menit"),
        second=("detik", "detik"),
        # Indonesian writes times of day with a period (PUEBI): pukul 10.42.
        which="kode $send dari $sends, diminta $time",
        newest="Ini $which. Jika Anda meminta lebih dari sekali, gunakan kode yang terbaru.",
        clock="%H.%M",
    ),
}

SUPPORTED_LOCALES: tuple[str, ...] = tuple(_WORDING)

_TEXT = Template("""\
$heading

    $code

$newest$validity
$advice

$ignore
""")

_HTML = Template("""\
<!DOCTYPE html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$subject</title>
</head>
<body style="font-family: Arial, Helvetica, sans-serif; line-height: 1.5; color: #1a1a1a;">
<p>$heading</p>
<p style="font-family: 'Courier New', monospace; font-size: 28px; font-weight: bold; letter-spacing: 4px;">\
$code</p>
$newest<p>$validity<br>
$advice</p>
<p style="color: #555555; font-size: 13px;">$ignore</p>
</body>
</html>
""")


def resolve_locale(locale: str) -> str:
    """Map a language tag to a supported locale: ``"id"``, ``"id-ID"`` and ``"ID_id"`` all give ``"id"``."""
    if isinstance(locale, str):
        tag = locale.strip().lower().replace("_", "-")
        for candidate in (tag, tag.partition("-")[0]):
            if candidate in _WORDING:
                return candidate
    raise InvalidInput(f"locale must be one of {', '.join(SUPPORTED_LOCALES)}", field="locale")


def _check_inputs(code: str, ttl_seconds: float, service_name: str) -> None:
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise InvalidInput("code must be 1 to 32 ASCII letters or digits", field="code")
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int | float):
        raise InvalidInput("ttl_seconds must be a number", field="ttl_seconds")
    if not math.isfinite(ttl_seconds) or ttl_seconds <= 0:
        raise InvalidInput("ttl_seconds must be a positive, finite number of seconds", field="ttl_seconds")
    if (
        not isinstance(service_name, str)
        or not service_name.strip()
        or len(service_name) > _MAX_SERVICE_NAME
        or any(ch != " " and is_unsafe_char(ch) for ch in service_name)
    ):
        raise InvalidInput(
            f"service_name must be 1 to {_MAX_SERVICE_NAME} printable characters", field="service_name"
        )


def _sender_address(sender: str, service_name: str) -> Address:
    """Accept ``no-reply@example.com`` or ``Name <no-reply@example.com>``; default the name to the service.

    Parsed by hand rather than with :func:`email.utils.parseaddr`, which on Python 3.11
    can read a different address than the one a person sees (CVE-2023-27043).
    """
    if not isinstance(sender, str) or any(is_unsafe_char(ch) and ch != " " for ch in sender):
        raise InvalidInput("sender must be an address on one line", field="sender")
    name, addr = "", sender.strip()
    if addr.endswith(">") and "<" in addr:
        name, _, addr = addr[:-1].rpartition("<")
        name = name.strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1]
        if any(ch in '<>"' for ch in name):
            raise InvalidInput(
                "sender's display name must not contain quotes or angle brackets", field="sender"
            )
    try:
        addr = normalize_email(addr)
    except InvalidInput as exc:
        raise InvalidInput(exc.message.replace("email address", "sender address"), field="sender") from None
    return _address(addr, display_name=name or service_name)


def _address(normalized: str, display_name: str = "") -> Address:
    # username/domain rather than addr_spec: addr_spec refuses non-ASCII local parts (RFC 6531).
    local, _, domain = normalized.rpartition("@")
    return Address(display_name=display_name, username=local, domain=domain)


def _which(wording: _Wording, send: int | None, sends: int | None, requested_at: dt.datetime | None) -> str:
    """ "code 2 of 2, requested 10:42 UTC" in the message's language, or "" when no send is named."""
    if send is None:
        if sends is not None or requested_at is not None:
            raise InvalidInput("sends and requested_at need send", field="send")
        return ""
    for name, value in (("send", send), ("sends", sends)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInput(f"{name} must be an integer >= 1", field=name)
    if sends is None or send > sends:
        raise InvalidInput("send must be between 1 and sends", field="send")
    if not isinstance(requested_at, dt.datetime) or requested_at.tzinfo is None:
        raise InvalidInput("requested_at must be a datetime with a time zone", field="requested_at")
    zone = requested_at.tzname() or ""
    time = requested_at.strftime(wording.clock) + (f" {zone}" if zone else "")
    return Template(wording.which).substitute(send=send, sends=sends, time=time)


@functools.lru_cache(maxsize=1024)
def _wire_header(name: str, text: str, international: bool) -> str:
    """A header's value as it travels (encoded words, folded), for a message built in wire form."""
    chosen = _UTF8_HEADERS if international else policy.default
    folded = str(chosen.header_factory(name, text).fold(policy=chosen))
    return folded[len(name) + 2 :].rstrip("\n")


def _wire_address(address: Address, international: bool) -> str:
    text = str(address)
    if len(text) <= _SHORT_HEADER and (international or text.isascii()):
        return text  # as it travels already: nothing to encode or fold
    return _wire_header("To", text, international)


def _quoted_printable(text: str) -> str:
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")


# A header value this long or shorter fits on one line with any of our header names.
_SHORT_HEADER = 60


@dataclass(frozen=True, slots=True)
class OTPEmailTemplate:
    """The one-time-code email for one sender, code lifetime, locale and service name, prepared
    once: :meth:`render` fills in what differs per send. Make one with :func:`prepare_otp_email`."""

    language: str
    wording: _Wording
    sender: Address
    subject: str
    phrases: tuple[tuple[str, str], ...]  # heading, validity, advice and ignore, substituted

    def render(
        self,
        *,
        to: str,
        code: str,
        send: int | None = None,
        sends: int | None = None,
        requested_at: dt.datetime | None = None,
    ) -> EmailMessage:
        """The message for one send; see :func:`render_otp_email` for the arguments."""
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise InvalidInput("code must be 1 to 32 ASCII letters or digits", field="code")
        which = _which(self.wording, send, sends, requested_at)
        recipient = _address(normalize_email(to))
        newest = Template(self.wording.newest).substitute(which=which) if which else ""
        phrases = dict(self.phrases)
        phrases["subject"] = f"{self.subject} ({which})" if which else self.subject
        phrases["code"] = code

        # An internationalized address can only travel over SMTPUTF8, in raw UTF-8 headers.
        international = not (recipient.username.isascii() and self.sender.username.isascii())
        message = EmailMessage(policy=_UTF8_HEADERS if international else policy.default)
        message.set_raw("Subject", _wire_header("Subject", phrases["subject"], international))
        message.set_raw("From", _wire_header("From", str(self.sender), international))
        message.set_raw("To", _wire_address(recipient, international))
        message.set_raw("Date", formatdate(usegmt=True))
        message.set_raw("Message-ID", make_msgid(domain=self.sender.domain))
        message.set_raw("Auto-Submitted", "auto-generated")  # RFC 3834: no vacation replies to a robot
        message.set_raw("MIME-Version", "1.0")
        message.set_raw("Content-Type", "multipart/alternative")
        message.set_raw("Content-Language", self.language)
        # Quoted-printable keeps the body 7-bit clean, so no server needs 8BITMIME.
        text = _TEXT.substitute(phrases, newest=f"{newest}\n" if newest else "")
        message.attach(_part(message, "plain", text))
        escaped = {key: html.escape(value) for key, value in phrases.items()}
        newest_html = f"<p>{html.escape(newest)}</p>\n" if newest else ""
        message.attach(
            _part(message, "html", _HTML.substitute(escaped, lang=self.language, newest=newest_html))
        )
        return message


def _part(parent: EmailMessage, subtype: str, body: str) -> EmailMessage:
    part = EmailMessage(policy=parent.policy)
    part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
    part.set_raw("Content-Transfer-Encoding", "quoted-printable")
    part.set_payload(_quoted_printable(body))
    return part


def prepare_otp_email(
    *, sender: str, ttl_seconds: float, locale: str = "en", service_name: str = "verifykit"
) -> OTPEmailTemplate:
    """The one-time-code email for these settings, validated and worded once (cached).

    Raises :class:`~verifykit.InvalidInput` for an unknown locale, a malformed sender or service
    name, or a lifetime that is not a positive number of seconds.
    """
    try:
        return _prepared(sender, ttl_seconds, locale, service_name)
    except TypeError:  # an argument that cannot be a cache key is also one the checks refuse
        return _prepare(sender, ttl_seconds, locale, service_name)


def _prepare(sender: str, ttl_seconds: float, locale: str, service_name: str) -> OTPEmailTemplate:
    language = resolve_locale(locale)
    wording = _WORDING[language]
    _check_inputs("0", ttl_seconds, service_name)
    values = {"service": service_name, "duration": wording.duration(ttl_seconds)}
    phrases = tuple(
        (name, Template(getattr(wording, name)).substitute(values))
        for name in ("heading", "validity", "advice", "ignore")
    )
    return OTPEmailTemplate(
        language=language,
        wording=wording,
        sender=_sender_address(sender, service_name),
        subject=Template(wording.subject).substitute(values),
        phrases=phrases,
    )


_prepared = functools.lru_cache(maxsize=64)(_prepare)


def render_otp_email(
    *,
    to: str,
    sender: str,
    code: str,
    ttl_seconds: float,
    locale: str = "en",
    service_name: str = "verifykit",
    send: int | None = None,
    sends: int | None = None,
    requested_at: dt.datetime | None = None,
) -> EmailMessage:
    """Build the one-time-code email: multipart/alternative, plain text and HTML, both UTF-8.

    ``ttl_seconds`` is stated in whole minutes (rounded down; seconds below one minute).
    With ``send`` (this message's send number, 1 for the first), ``sends`` (how many had been
    sent then, this one included) and ``requested_at`` (an aware datetime, in the zone to state it
    in), the subject and body say "code 2 of 2, requested 10:42 UTC".
    Raises :class:`~verifykit.InvalidInput` for an unknown locale, a malformed address,
    code or service name; the error never repeats the code.
    """
    template = prepare_otp_email(
        sender=sender, ttl_seconds=ttl_seconds, locale=locale, service_name=service_name
    )
    return template.render(to=to, code=code, send=send, sends=sends, requested_at=requested_at)


def code_in(message: EmailMessage) -> str:
    """The one-time code in a message :func:`render_otp_email` wrote (read from its plain-text part).

    It lives beside the layout it reads, for the demo, the benches and tests that stand in for a person.
    """
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        raise ValueError("message has no text/plain part")
    text = part.get_content()
    if not isinstance(text, str):
        raise ValueError("message text is not a string")
    match = _CODE_LINE.search(text)
    if match is None:
        raise ValueError("no code in message")
    return match.group(1)
