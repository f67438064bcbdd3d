"""One SMTP conversation, free of I/O: what to say, what each reply means, which failure is which.

:func:`conversation` is a generator in the shape of :mod:`verifykit._flow` (and of h11): it yields
what it needs from the connection as a plain step (:class:`Open`, :class:`Command`,
:class:`StartTLS`, :class:`Goodbye`) and decides from the :class:`Reply` the driver sends back.
:class:`~verifykit.delivery.SMTPMailer` answers the steps on a blocking socket,
:class:`~verifykit.aio.AsyncSMTPMailer` on asyncio streams; both read replies with
:class:`ReplyReader` and map what went wrong with :func:`failure`. So the two mailers say the same
commands in the same order, word every failure alike and split temporary from permanent alike
(RFC 5321: a 4xx reply is transient, a 5xx one permanent).
"""

from __future__ import annotations

import base64
import email.policy
import re
import ssl
from collections.abc import Generator
from copy import copy
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import getaddresses
from io import BytesIO
from typing import Literal

from .._errors import DeliveryError, InvalidInput
from ._address import mask_email

__all__ = [
    "GOODBYE_WAIT",
    "Command",
    "Conversation",
    "Envelope",
    "Goodbye",
    "Open",
    "Reply",
    "ReplyError",
    "ReplyReader",
    "Security",
    "ServerClosed",
    "StartTLS",
    "Step",
    "conversation",
    "failure",
    "unfinished",
]

Security = Literal["starttls", "tls", "none"]

#: The longest a goodbye waits for its reply (never past the attempt's end): the message is taken.
GOODBYE_WAIT = 1.0
_MAX_LINE = 8192  # as smtplib: a longer reply line is a broken or hostile server
_MAX_LINES = 512
_MAX_REPLY_TEXT = 160
_ADDRESS_IN_TEXT = re.compile(r"[^\s<>@,;:\"()\[\]]+@[^\s<>@,;:\"()\[\]]+")
_LINE_END = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")


# --- replies ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """A server's reply: its code and the text of each line."""

    code: int
    lines: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(self.lines)


class ReplyError(Exception):
    """The server sent something that is not an SMTP reply; ``text`` finishes "SMTP server h:p …"."""

    def __init__(self, text: str, *, temporary: bool) -> None:
        super().__init__(text)
        self.text = text
        self.temporary = temporary


class ServerClosed(Exception):
    """The server closed the connection while a reply was awaited."""


class ReplyReader:
    """Bytes in, :class:`Reply` out: multi-line replies joined, lines bounded in length and number."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._lines: list[str] = []

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_reply(self) -> Reply | None:
        """The next whole reply, or None until more bytes are fed."""
        while (end := self._buffer.find(b"\n")) >= 0:
            if end > _MAX_LINE:
                break
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            code, mark, text = line[:3], line[3:4], line[4:]
            if not (code.isdigit() and len(code) == 3 and mark in (b"", b" ", b"-")):
                raise ReplyError("answered with something other than SMTP", temporary=True)
            self._lines.append(text.decode("utf-8", "replace"))
            if len(self._lines) > _MAX_LINES:
                raise ReplyError(f"sent a reply of over {_MAX_LINES} lines", temporary=False)
            if mark != b"-":
                lines, self._lines = tuple(self._lines), []
                return Reply(int(code), lines)
        if len(self._buffer) > _MAX_LINE:
            raise ReplyError(f"sent a reply line over {_MAX_LINE} bytes", temporary=False)
        return None

    def before_tls(self) -> None:
        """Refuse bytes sent ahead of the TLS handshake: they would pass as spoken under TLS."""
        if self._buffer or self._lines:
            raise ReplyError("sent data ahead of the TLS handshake", temporary=False)


# --- steps -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Open:
    """Connect (with ``tls``, then the TLS handshake: implicit TLS); the answer is the greeting."""

    tls: bool


@dataclass(frozen=True, slots=True)
class Command:
    """Send ``data``, then read one reply: the answer. ``verb`` names it; ``data`` may hold a password."""

    verb: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class StartTLS:
    """The TLS handshake on the open connection (after the server's 220 to STARTTLS)."""


@dataclass(frozen=True, slots=True)
class Goodbye:
    """QUIT, after the message was taken: best effort, its reply awaited up to :data:`GOODBYE_WAIT`
    and never past the attempt's end; any failure changes nothing. Always the last step."""

    data: bytes = b"QUIT\r\n"


Step = Open | Command | StartTLS | Goodbye
Conversation = Generator[Step, Reply | None, None]


# --- the message ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who from, who to, and the message as sent, as ``smtplib``'s ``send_message`` derives them:
    the sender from Sender or From, recipients from To, Cc and Bcc, Bcc never sent. An address
    beyond ASCII needs the server's SMTPUTF8 and sends the headers in UTF-8."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    international: bool

    @classmethod
    def of(cls, message: EmailMessage) -> Envelope:
        sender_field = message["Sender"] if "Sender" in message else message["From"]
        sender = getaddresses([str(sender_field)])[0][1]
        fields = [str(message[name]) for name in ("To", "Bcc", "Cc") if message[name] is not None]
        recipients = tuple(address for _, address in getaddresses(fields) if address)
        if not sender or not recipients:
            raise InvalidInput("the message needs a From and a To header", field="message")
        if any(_LINE_END.search(address.encode()) for address in (sender, *recipients)):
            raise InvalidInput("an address may not hold a line break", field="message")
        international = not all(address.isascii() for address in (sender, *recipients))
        sent = copy(message)
        del sent["Bcc"]
        del sent["Resent-Bcc"]
        policy = message.policy
        if international:
            utf8 = policy if isinstance(policy, EmailPolicy) else email.policy.default
            policy = utf8.clone(utf8=True)
        out = BytesIO()
        BytesGenerator(out, policy=policy).flatten(sent, linesep="\r\n")
        return cls(sender, recipients, out.getvalue(), international)

    def body(self) -> bytes:
        """The DATA section: CRLF line ends, leading dots doubled, ended by a lone dot."""
        data = _LEADING_DOT.sub(b"..", _LINE_END.sub(b"\r\n", self.data))
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        return data + b".\r\n"


# --- the conversation ----------------------------------------------------------------------


def _ask(step: Step) -> Generator[Step, Reply | None, Reply]:
    reply = yield step
    assert reply is not None, f"{step!r} is answered with a reply"
    return reply


def conversation(
    envelope: Envelope,
    *,
    security: Security,
    local_hostname: str,
    login: tuple[str, str] | None,
    where: str,
) -> Conversation:
    """Deliver ``envelope``: greeting, EHLO, STARTTLS or implicit TLS, AUTH, MAIL, RCPT, DATA, QUIT.

    Raises :class:`~verifykit.DeliveryError` for every refusal, worded after ``where``
    ("SMTP server host:port"); what the connection itself raises is the driver's to map.
    """
    greeting = yield from _ask(Open(tls=security == "tls"))
    if greeting.code != 220:
        raise _answered(where, greeting)
    extensions = yield from _hello(local_hostname, where, helo_allowed=True)
    if security == "starttls":
        if "STARTTLS" not in extensions:
            # Never go on in plain text: that is what a downgrade attacker wants.
            raise DeliveryError(f"{where} does not offer STARTTLS", temporary=False)
        reply = yield from _ask(Command("STARTTLS", b"STARTTLS\r\n"))
        if reply.code != 220:
            raise _answered(where, reply)
        yield StartTLS()
        extensions = yield from _hello(local_hostname, where, helo_allowed=False)
    if login is not None:
        yield from _login(extensions, *login, where=where)
    yield from _mail(envelope, extensions, where)
    yield Goodbye()


def _hello(
    local_hostname: str, where: str, *, helo_allowed: bool
) -> Generator[Step, Reply | None, dict[str, str]]:
    """EHLO, and the extensions it names; HELO (no extensions) where EHLO is refused before TLS."""
    reply = yield from _ask(Command("EHLO", f"EHLO {local_hostname}\r\n".encode("ascii")))
    if 200 <= reply.code < 300:
        return _extensions(reply)
    if helo_allowed:
        reply = yield from _ask(Command("HELO", f"HELO {local_hostname}\r\n".encode("ascii")))
        if 200 <= reply.code < 300:
            return {}
    raise _answered(where, reply)


def _extensions(reply: Reply) -> dict[str, str]:
    extensions: dict[str, str] = {}
    for line in reply.lines[1:]:
        keyword, _, parameters = line.strip().partition(" ")
        if keyword.upper().startswith("AUTH="):  # the old form some servers still send
            keyword, parameters = "AUTH", f"{extensions.get('AUTH', '')} {keyword[5:]} {parameters}"
        extensions[keyword.upper()] = parameters.strip()
    return extensions


def _b64(text: str) -> bytes:
    return base64.b64encode(text.encode("utf-8"))


def _login(
    extensions: dict[str, str], username: str, password: str, *, where: str
) -> Generator[Step, Reply | None, None]:
    """AUTH PLAIN, else LOGIN, as the server offers; the last refusal is the failure."""
    if "AUTH" not in extensions:
        raise _cannot_take(where, "it offers no AUTH (login)")
    offered = extensions["AUTH"].upper().split()
    mechanisms = [mechanism for mechanism in ("PLAIN", "LOGIN") if mechanism in offered]
    if not mechanisms:
        raise _cannot_take(where, f"it offers no login this client speaks ({' '.join(offered)})")
    reply = Reply(0)
    for mechanism in mechanisms:
        if mechanism == "PLAIN":
            reply = yield from _ask(
                Command("AUTH", b"AUTH PLAIN " + _b64(f"\0{username}\0{password}") + b"\r\n")
            )
        else:
            reply = yield from _ask(Command("AUTH", b"AUTH LOGIN " + _b64(username) + b"\r\n"))
            if reply.code == 334:
                reply = yield from _ask(Command("AUTH", _b64(password) + b"\r\n"))
        if reply.code in (235, 503):  # 503: already logged in
            return
    raise DeliveryError(
        f"{where} rejected the login: {reply.code} {reply_text(reply.text)}",
        temporary=_is_temporary(reply.code),
    )


def _mail(envelope: Envelope, extensions: dict[str, str], where: str) -> Generator[Step, Reply | None, None]:
    options = []
    if "SIZE" in extensions:
        options.append(f"SIZE={len(envelope.data)}")
    if envelope.international:
        if "SMTPUTF8" not in extensions:
            raise _cannot_take(where, "an address needs SMTPUTF8, which it does not offer")
        options += ["SMTPUTF8", "BODY=8BITMIME"]
    elif "8BITMIME" in extensions and not envelope.data.isascii():
        options.append("BODY=8BITMIME")
    encoding = "utf-8" if envelope.international else "ascii"
    mail = " ".join([f"MAIL FROM:<{envelope.sender}>", *options]) + "\r\n"
    reply = yield from _ask(Command("MAIL", mail.encode(encoding)))
    if reply.code != 250:
        raise _answered(where, reply)
    refused: dict[str, Reply] = {}
    for recipient in envelope.recipients:
        reply = yield from _ask(Command("RCPT", f"RCPT TO:<{recipient}>\r\n".encode(encoding)))
        if reply.code not in (250, 251):
            refused[recipient] = reply
            if reply.code == 421:  # the server is closing: the rest would go unheard
                break
    if len(refused) == len(envelope.recipients) or reply.code == 421:
        recipient, reply = next(iter(refused.items()))
        raise DeliveryError(
            f"{where} refused the recipient {mask_email(recipient)}: {reply.code} {reply_text(reply.text)}",
            temporary=_is_temporary(reply.code),
        )
    reply = yield from _ask(Command("DATA", b"DATA\r\n"))
    if reply.code != 354:
        raise _answered(where, reply)
    reply = yield from _ask(Command("DATA", envelope.body()))
    if reply.code != 250:
        raise _answered(where, reply)
    if refused:
        described = ", ".join(f"{mask_email(rcpt)} ({reply.code})" for rcpt, reply in refused.items())
        raise DeliveryError(f"{where} refused some recipients: {described}", temporary=False)


# --- how each failure reads, and whether trying again can help -----------------------------


def reply_text(text: str) -> str:
    """A server reply fit for an error message: one line, short, with addresses masked."""
    text = " ".join(text.split())
    text = _ADDRESS_IN_TEXT.sub(lambda match: mask_email(match.group(0)), text)
    return text if len(text) <= _MAX_REPLY_TEXT else text[: _MAX_REPLY_TEXT - 3] + "..."


def _is_temporary(code: int) -> bool:
    """RFC 5321: 4xx is transient, 5xx permanent; anything else means the exchange broke (transient)."""
    return not 500 <= code < 600


def _answered(where: str, reply: Reply) -> DeliveryError:
    return DeliveryError(
        f"{where} answered {reply.code} {reply_text(reply.text)}", temporary=_is_temporary(reply.code)
    )


def _cannot_take(where: str, why: str) -> DeliveryError:
    return DeliveryError(f"{where} cannot take this message: {why}", temporary=False)


def unfinished(where: str, budget: float) -> DeliveryError:
    return DeliveryError(f"{where} did not finish within {budget:.1f} s", temporary=True)


def failure(exc: BaseException, where: str, budget: float) -> DeliveryError | None:
    """What ``exc``, raised by a conversation or its connection, means for delivery; None when it
    is no delivery failure but a bug (to re-raise as it is). Timeouts: the attempt's budget ran out."""
    text: str
    match exc:
        case DeliveryError():
            return exc
        case TimeoutError():
            return unfinished(where, budget)
        case ServerClosed():
            text, temporary = "closed the connection", True
        case ReplyError(text=text, temporary=temporary):
            pass
        case ssl.SSLCertVerificationError(verify_message=reason):
            text, temporary = f"has an untrusted TLS certificate: {reason}", False
        case ssl.SSLError(reason=reason):
            text, temporary = f"failed the TLS handshake: {reason or type(exc).__name__}", False
        case ConnectionRefusedError():
            text, temporary = "refused the connection", True
        case OSError(strerror=reason):
            text, temporary = f"could not be reached: {reason or type(exc).__name__}", True
        case _:
            return None
    error = DeliveryError(f"{where} {text}", temporary=temporary)
    error.__cause__ = exc
    return error
