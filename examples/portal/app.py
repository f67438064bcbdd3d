"""The applicant portal: a few Starlette routes with HTML forms over verifykit's asyncio flavour.

Journeys: sign up (email code, then a password and an authenticator app or a passkey, recovery
codes, ID photo), log in (a passkey; a password and an authenticator app at AAL2, or a password
and an email code at a lower level), the email that never arrives (the ladder's other ways in,
down to a counter voucher), and a face check with the camera. Refusals are verdicts; each page
says why in words and offers the next way in.

A sign-in in progress is a *claim*: an address someone typed, not yet proven (``login_email`` in
the session), or an account whose password was right (``login``). Until something is proven,
the portal answers an address without an account exactly as it answers one with: the same words,
the same ways offered (a fixed list), the same session keys, and checks against a stand-in
subject and stand-in secrets (:class:`~services.Decoys`), so that the tries left count the same.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from verifykit import (
    ChallengeClosed,
    ChallengeNotFound,
    ImageError,
    ImageTooCostly,
    InvalidInput,
    RateLimited,
    Reason,
    TemplateError,
    Verdict,
    VerifyKitError,
    Way,
    aio,
)
from verifykit.delivery import code_in
from verifykit.ladder import AAL, COMBINATIONS
from verifykit.passkey import MAX_RESPONSE_LENGTH, assurance
from verifykit.password import PolicyViolation
from verifykit.vouchers import issue_voucher

from .config import Config
from .db import Account
from .i18n import LANGUAGES, passkey_reason_key, reason_key, translate, until_text, way_key
from .services import Services

__all__ = ["create_app", "level_of"]

HERE = Path(__file__).parent
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
# Ways a person can sign in with here, and where each one's form is.
SIGN_IN_WAYS: Mapping[Way, str] = {
    Way.PASSWORD: "/login",
    Way.AUTHENTICATOR_APP: "/login/ways#app",
    Way.RECOVERY_CODE: "/login/ways#recovery",
    Way.EMAIL_CODE: "/login/ways#email",
    Way.PASSKEY: "/login/ways#passkey",
    Way.COUNTER_VOUCHER: "/login/ways#voucher",
}
#: What a sign-in that proved nothing yet is offered, whoever the address belongs to: every way in
#: the portal supports besides the password, in the ladder's order, the counter voucher last.
GENERIC_WAYS: tuple[Way, ...] = (
    Way.PASSKEY,
    Way.AUTHENTICATOR_APP,
    Way.RECOVERY_CODE,
    Way.EMAIL_CODE,
    Way.COUNTER_VOUCHER,
)
# Session keys of a sign-in in progress; all go when it ends or starts again.
_LOGIN_KEYS = ("login", "login_email", "factors", "login_challenge", "passkey_auth")
# Refusals where "tries left" means nothing: the code is gone, or the way is shut for now.
_NO_TRIES_LEFT = frozenset(
    {
        Reason.EXPIRED,
        Reason.NOT_FOUND,
        Reason.CANCELED,
        Reason.ATTEMPTS_EXHAUSTED,
        Reason.LOCKED_OUT,
        Reason.HARD_LOCKED,
        Reason.RATE_LIMITED,
    }
)
# A JSON body the portal reads (an email address): small.
_SMALL_JSON = 4096

Handler = Callable[[Request], Awaitable[Response]]


def level_of(factors: Iterable[str], *, passkey_level: int = 2) -> str:
    """What the ways passed in this sign-in reach together: ``AAL3`` (a passkey that
    :func:`verifykit.passkey.assurance` rates 3), ``AAL2``, ``AAL1``, ``counter`` (recovered
    through a voucher) or ``none`` (an email code proves an address, not a person)."""
    passed = {Way(f) for f in factors}
    if Way.COUNTER_VOUCHER in passed:  # account recovery after an in-person check (SP 800-63B-4 4.2)
        return "counter"
    if Way.PASSKEY in passed and passkey_level >= AAL.AAL3:
        return AAL.AAL3.name
    best: AAL | None = None
    for combination in COMBINATIONS:
        if set(combination.ways) <= passed and (best is None or combination.level > best):
            best = combination.level
    return best.name if best is not None else "none"


@dataclass(frozen=True, slots=True)
class Claim:
    """Whom a sign-in in progress is checked against.

    ``account`` is ``None`` when no confirmed account has ``email``; ``subject`` is then a
    stand-in. ``proven``: a password was right, so the person knows which account this is."""

    subject: str
    account: Account | None
    email: str
    proven: bool


@dataclass(frozen=True, slots=True)
class Resend:
    """An email code to send again: its challenge, and what starts a new one once it has closed
    (the subject, the address and the session key that keeps the challenge's id)."""

    mail: aio.EmailOTP
    subject: str
    destination: str
    challenge_id: str
    session_key: str


class SecurityHeaders:
    """Adds a strict Content-Security-Policy (no inline script) and friends to every response."""

    CSP = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob: mediastream:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", self.CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(self), microphone=()"),
                    (b"cache-control", b"no-store"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class Portal:
    """The routes, over one :class:`Services`."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.config = services.config
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.generic = tuple(w for w in GENERIC_WAYS if w is not Way.PASSKEY or services.passkeys)

    # -- plumbing -------------------------------------------------------------------------------

    def lang(self, request: Request) -> str:
        lang = request.session.get("lang")
        return lang if lang in LANGUAGES else "en"

    def t(self, request: Request, key: str, **params: object) -> str:
        return translate(self.lang(request), key, **params)

    def csrf(self, request: Request) -> str:
        token = request.session.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(32)
            request.session["csrf"] = token
        return token

    async def form(self, request: Request, **limits: int) -> FormData:
        """The posted form, once its CSRF token matches the session's (403 otherwise)."""
        # Read once by the guard (Starlette keeps the parsed form on the request).
        form = await request.form(max_files=limits.get("max_files", 0), max_fields=20)
        self.check_csrf(request, form.get(CSRF_FIELD))
        return form

    def guarded(self, handler: Handler) -> Handler:
        """``handler`` behind the CSRF check: every POST carries the session's token, in the form
        or (from script) in the X-CSRF-Token header, before anything else happens. An oversized
        upload is left unread for the handler to refuse."""

        async def guard(request: Request) -> Response:
            if request.method == "POST" and not self.photo_too_large(request):
                sent: object = request.headers.get(CSRF_HEADER)
                if sent is None:
                    multipart = request.headers.get("content-type", "").startswith("multipart/")
                    sent = (await request.form(max_files=1 if multipart else 0, max_fields=20)).get(
                        CSRF_FIELD
                    )
                self.check_csrf(request, sent)
            return await handler(request)

        return guard

    def check_csrf(self, request: Request, sent: object) -> None:
        expected = request.session.get("csrf")
        if not (isinstance(sent, str) and isinstance(expected, str) and hmac.compare_digest(sent, expected)):
            raise HTTPException(403, "CSRF token missing or wrong")

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        lang = self.lang(request)
        context.setdefault("error", None)
        context.setdefault("notice", None)
        context.setdefault("ways", [])
        context.update(
            lang=lang,
            other_langs=[code for code in LANGUAGES if code != lang],
            t=lambda key, **p: translate(lang, key, **p),
            csrf=self.csrf(request),
            dev=self.config.development,
            signed_in=bool(request.session.get("user")),
            passkeys_on=self.s.passkeys is not None,
            path=request.url.path,
        )
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def refusal(self, request: Request, reason: Reason | str, *, key: str | None = None, **facts: Any) -> str:
        """Clear words for a refusal: why, until when a lock lasts, or else the tries left."""
        words = [self.t(request, key or reason_key(reason))]
        retry_after = facts.get("retry_after")
        if retry_after and reason is not Reason.HARD_LOCKED:
            words.append(self.t(request, "refusal.until", until=until_text(retry_after)))
            return " ".join(words)
        left = facts.get("attempts_left")
        if left is None:
            left = facts.get("budget_left")
        if left is not None and reason not in _NO_TRIES_LEFT:
            words.append(self.t(request, "refusal.left", left=left))
        return " ".join(words)

    def verdict_words(self, request: Request, verdict: Verdict, *, key: str | None = None) -> str:
        return self.refusal(
            request,
            verdict.reason,
            key=key,
            retry_after=verdict.retry_after,
            attempts_left=verdict.attempts_left,
            budget_left=verdict.budget_left,
        )

    def passkey_level(self, account: Account | None) -> int | None:
        """What the account's best passkey reaches alone (2 or 3); ``None`` without one."""
        passkeys = self.s.passkeys
        if account is None or passkeys is None:
            return None
        levels = []
        for stored in account.passkeys:
            with contextlib.suppress(VerifyKitError):  # a damaged entry is no way in
                levels.append(assurance(passkeys.credential(account.subject, stored)))
        return max(levels, default=None)

    async def next_ways(
        self,
        request: Request,
        account: Account | None,
        *,
        skip: Iterable[Way] = (),
        delivery: str | None = None,
    ) -> list[dict[str, str]]:
        """The ladder's open ways in for this account, as links: offered with every refusal once
        the person has proven which account is theirs."""
        if account is None:
            return self.generic_ways(request, skip=skip)
        offer = await self.s.ladder.ways_in(
            account.subject,
            self.enrolled(account),
            delivery=delivery,
            passkey_level=self.passkey_level(account),
        )
        skipped = set(skip)
        return [
            self.way_link(request, rung.way)
            for rung in offer.open
            if rung.way in SIGN_IN_WAYS and rung.way not in skipped
        ]

    def enrolled(self, account: Account) -> tuple[Way, ...]:
        """The account's ways in that the portal can run now (passkeys need the verifier)."""
        return tuple(w for w in account.ways() if w is not Way.PASSKEY or self.s.passkeys)

    def generic_ways(self, request: Request, *, skip: Iterable[Way] = ()) -> list[dict[str, str]]:
        """The fixed list offered before anything is proven: the same for every address."""
        skipped = set(skip)
        return [self.way_link(request, way) for way in self.generic if way not in skipped]

    async def offered(
        self, request: Request, claim: Claim, *, skip: Iterable[Way] = ()
    ) -> list[dict[str, str]]:
        if claim.proven:
            return await self.next_ways(request, claim.account, skip=skip)
        return self.generic_ways(request, skip=skip)

    def way_link(self, request: Request, way: Way) -> dict[str, str]:
        return {"way": way.value, "label": self.t(request, way_key(way)), "href": SIGN_IN_WAYS[way]}

    async def current_account(self, request: Request, key: str) -> Account | None:
        subject = request.session.get(key)
        return await self.s.accounts.by_subject(subject) if isinstance(subject, str) else None

    def client(self, request: Request) -> str | None:
        return request.client.host if request.client else None

    def stand_in(self, email: str) -> str:
        """The subject an address without an account is checked under: keyed, so nobody can
        aim at it, and stable, so its failures count as an account's would."""
        digest = self.s.keyring.digest("portal-stand-in", email.encode())
        return "unknown-" + digest.partition(":")[2][:24]

    async def confirmed(self, email: str) -> Account | None:
        """The account of ``email`` that may sign in (its address confirmed), if any."""
        account = await self.s.accounts.by_email(email) if email else None
        return account if account is not None and account.email_verified else None

    async def claim(self, request: Request) -> Claim | None:
        """The sign-in in progress: a proven account, an address typed, or nothing."""
        account = await self.current_account(request, "login")
        if account is not None:
            return Claim(account.subject, account, account.email, proven=True)
        email = request.session.get("login_email")
        if not isinstance(email, str):
            return None
        account = await self.confirmed(email)
        subject = account.subject if account is not None else self.stand_in(email)
        return Claim(subject, account, email, proven=False)

    def start_claim(self, request: Request, email: str) -> None:
        """A sign-in starts again for ``email``: the same session keys whoever it belongs to."""
        for key in _LOGIN_KEYS:
            request.session.pop(key, None)
        request.session["login_email"] = email
        request.session["factors"] = []

    def establish(
        self, request: Request, account: Account, factors: Iterable[str], *, passkey_level: int = 2
    ) -> None:
        for key in _LOGIN_KEYS:
            request.session.pop(key, None)
        request.session["user"] = account.subject
        request.session["level"] = level_of(factors, passkey_level=passkey_level)
        request.session["factors"] = sorted(set(factors))

    def sign_in(
        self, request: Request, account: Account, factors: Iterable[str], *, passkey_level: int = 2
    ) -> Response:
        self.establish(request, account, factors, passkey_level=passkey_level)
        return RedirectResponse("/account", status_code=303)

    async def small_json(self, request: Request) -> dict[str, Any]:
        body = await bounded_body(request, _SMALL_JSON)
        try:
            doc = json.loads(body) if body else {}
        except (ValueError, UnicodeDecodeError):
            doc = None
        return doc if isinstance(doc, dict) else {}

    # -- pages ----------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        return self.render(request, "home.html")

    async def set_lang(self, request: Request) -> Response:
        lang = request.path_params["lang"]
        if lang in LANGUAGES:
            request.session["lang"] = lang
        target = request.query_params.get("next", "/")
        safe = target if target.startswith("/") and not target.startswith("//") else "/"
        return RedirectResponse(safe, status_code=303)

    # Sign up: email, code, then a password and an authenticator app or a passkey, recovery codes,
    # ID photo.

    async def signup(self, request: Request) -> Response:
        if request.method == "GET":
            return self.render(request, "signup_email.html")
        form = await self.form(request)
        email = str(form.get("email", "")).strip().lower()
        if "@" not in email or len(email) > 254:
            return self.render(request, "signup_email.html", 400, error=self.t(request, "error.email"))
        # An address that already has an account is answered as a new one: a code is sent to it,
        # under a subject of its own (so nobody can spend the account's budget from here), and
        # only whoever reads that mailbox learns, after the code, that the account exists.
        try:
            subject = (await self.s.accounts.create(email, self.lang(request))).subject
        except ValueError:
            subject = "acct-" + secrets.token_hex(12)
        try:
            challenge = await self.s.email.start(
                subject, email, locale=self.lang(request), client=self.client(request)
            )
        except RateLimited as exc:
            error = self.refusal(request, Reason.RATE_LIMITED, retry_after=exc.retry_after)
            return self.render(request, "signup_email.html", 429, error=error)
        except InvalidInput:
            return self.render(request, "signup_email.html", 400, error=self.t(request, "error.email"))
        request.session["signup_challenge"] = challenge.id
        request.session["signup"] = subject
        request.session["signup_email"] = email
        return RedirectResponse("/signup/email", status_code=303)

    async def signup_email_code(self, request: Request) -> Response:
        account = await self.current_account(request, "signup")  # None: the address had one
        email = request.session.get("signup_email")
        challenge_id = request.session.get("signup_challenge")
        if not isinstance(email, str) or not isinstance(challenge_id, str):
            return RedirectResponse("/signup", status_code=303)
        if request.method == "GET":
            return self.render(request, "signup_code.html", destination=email)
        form = await self.form(request)
        if form.get("action") == "resend":
            subject = str(request.session.get("signup", ""))
            resent = Resend(self.s.email, subject, email, challenge_id, "signup_challenge")
            return await self.resend(request, resent, "signup_code.html")
        error, verdict = await self.check_code(request, self.s.email, challenge_id, str(form.get("code", "")))
        if verdict is None or not verdict.approved:
            return self.render(
                request,
                "signup_code.html",
                400,
                error=error,
                destination=email,
                can_resend=True,
            )
        request.session.pop("signup_challenge", None)
        request.session.pop("signup_email", None)
        if account is None:  # the mailbox's owner has an account already: sign in to it
            request.session.pop("signup", None)
            request.session["notice"] = "notice.account_exists"
            return RedirectResponse("/login", status_code=303)
        await self.s.accounts.update(account.subject, email_verified=1)
        return RedirectResponse("/signup/password", status_code=303)

    async def check_code(
        self, request: Request, mail: aio.EmailOTP, challenge_id: str, code: str
    ) -> tuple[str, Verdict | None]:
        code = code.strip().replace(" ", "")
        try:
            verdict = await mail.check(challenge_id, code, client=self.client(request))
        except (ChallengeNotFound, ChallengeClosed):
            return self.t(request, "reason.expired"), None
        except InvalidInput:
            return self.t(request, "error.code_format"), None
        return self.verdict_words(request, verdict), verdict

    async def resend(self, request: Request, code: Resend, page: str) -> Response:
        """The "Send a new code" button: the same challenge sent again while it is open; once it
        has closed (expired, or its tries spent), a new one to the same address, whose id the
        session keeps from then on."""
        try:
            try:
                await code.mail.resend(code.challenge_id, client=self.client(request))
            except (ChallengeNotFound, ChallengeClosed):
                challenge = await code.mail.start(
                    code.subject, code.destination, locale=self.lang(request), client=self.client(request)
                )
                request.session[code.session_key] = challenge.id
        except RateLimited as exc:
            error = self.refusal(request, Reason.RATE_LIMITED, retry_after=exc.retry_after)
            return self.render(request, page, 429, error=error, destination=code.destination, can_resend=True)
        notice = self.t(request, "notice.resent")
        return self.render(request, page, notice=notice, destination=code.destination)

    async def signup_password(self, request: Request) -> Response:
        account = await self.current_account(request, "signup")
        if account is None or not account.email_verified:
            return RedirectResponse("/signup", status_code=303)
        if account.passkeys:  # signed up with a passkey instead
            return RedirectResponse("/signup/recovery", status_code=303)
        if request.method == "GET":
            return self.render(request, "signup_password.html")
        form = await self.form(request)
        password = str(form.get("password", ""))
        try:
            stored = await self.s.passwords.hash(password, subject=account.subject, context=[account.email])
        except PolicyViolation as exc:
            error = self.t(request, reason_key(exc.reason))
            return self.render(request, "signup_password.html", 400, error=error)
        await self.s.accounts.update(account.subject, password_hash=stored)
        return RedirectResponse("/signup/app", status_code=303)

    async def password_policy(self, request: Request) -> Response:
        """Live feedback while a password is typed: the policy's answer, in words (JSON)."""
        self.check_csrf(request, request.headers.get(CSRF_HEADER))
        account = await self.current_account(request, "signup")
        body = await request.json()
        password = body.get("password") if isinstance(body, dict) else None
        if not isinstance(password, str):
            return JSONResponse({"error": "password must be text"}, status_code=400)
        context = [account.email] if account else []
        subject = account.subject if account else None
        try:
            result = self.s.passwords.check_policy(password, subject=subject, context=context)
        except PolicyViolation as exc:
            result = exc.result
        words = (
            self.t(request, "policy.ok") if result.approved else self.t(request, reason_key(result.reason))
        )
        return JSONResponse({"approved": result.approved, "reason": result.reason.value, "message": words})

    async def signup_app(self, request: Request) -> Response:
        account = await self.current_account(request, "signup")
        if account is None or not account.password_hash:
            return RedirectResponse("/signup", status_code=303)
        if request.method == "GET":
            enrollment = await self.s.totp.enroll(account.subject, account.email)
            await self.s.accounts.update(account.subject, totp_pending=enrollment.stored)
            # Shown once, as text (a QR code would need a library; the URI is what it encodes).
            return self.render(
                request, "signup_app.html", uri=enrollment.provisioning_uri, secret=enrollment.secret_base32
            )
        form = await self.form(request)
        pending = account.totp_pending
        if pending is None:
            return RedirectResponse("/signup/app", status_code=303)
        try:
            verdict = await self.s.totp.verify(
                account.subject, pending, str(form.get("code", "")).strip(), client=self.client(request)
            )
        except InvalidInput:
            error = self.t(request, "error.code_format")
        else:
            if verdict.approved:
                await self.s.accounts.update(account.subject, totp=pending, totp_pending=None)
                return RedirectResponse("/signup/recovery", status_code=303)
            error = self.verdict_words(request, verdict)
        return self.render(request, "signup_app.html", 400, error=error, confirm_only=True)

    async def signup_recovery(self, request: Request) -> Response:
        account = await self.current_account(request, "signup")
        if account is None or not (account.totp or account.passkeys):
            return RedirectResponse("/signup", status_code=303)
        if request.method == "POST":
            await self.form(request)
            return RedirectResponse("/signup/face", status_code=303)
        if account.recovery:  # shown once: a reload does not show them again
            return self.render(request, "signup_recovery.html", codes=None)
        issued = await self.s.recovery.generate(account.subject)
        await self.s.accounts.update(account.subject, recovery=issued.stored)
        return self.render(request, "signup_recovery.html", codes=issued.codes)

    async def signup_face(self, request: Request) -> Response:  # noqa: PLR0911 - one early answer per refusal a person can meet
        account = await self.current_account(request, "signup")
        if account is None or not account.recovery:
            return RedirectResponse("/signup", status_code=303)
        if request.method == "GET":
            return self.render(request, "signup_face.html")
        too_large = self.photo_too_large(request)
        if too_large:
            return self.render(request, "signup_face.html", 413, error=too_large)
        form = await self.form(request, max_files=1)
        if form.get("action") == "skip":
            return self.signup_done(request, account)
        photo = await self.photo_bytes(form.get("photo"))
        if photo is None:
            return self.render(request, "signup_face.html", 400, error=self.t(request, "error.photo_missing"))
        try:
            enrollment = await self.s.faces.enroll(account.subject, photo)
        except VerifyKitError as exc:
            return self.render(request, "signup_face.html", 400, error=self.photo_error(request, exc))
        if not enrollment.approved or enrollment.stored is None:
            return self.render(
                request, "signup_face.html", 400, error=self.t(request, reason_key(enrollment.reason))
            )
        await self.s.accounts.update(account.subject, face=enrollment.stored)
        return self.signup_done(request, account)

    def signup_done(self, request: Request, account: Account) -> Response:
        """Sign-up ends signed in: the email and then a password with a first app code, or a
        passkey, were all just shown."""
        request.session.pop("signup", None)
        if account.totp:
            return self.sign_in(request, account, [Way.PASSWORD, Way.AUTHENTICATOR_APP])
        return self.sign_in(request, account, [Way.PASSKEY], passkey_level=self.passkey_level(account) or 2)

    def photo_too_large(self, request: Request) -> str | None:
        length = request.headers.get("content-length")
        limit = self.config.max_photo_bytes
        if length is not None and length.isdigit() and int(length) > limit + 64 * 1024:
            return self.t(request, "error.photo_too_large", mib=limit // (1024 * 1024))
        return None

    async def photo_bytes(self, upload: object) -> bytes | None:
        if not isinstance(upload, UploadFile):
            return None
        data = await upload.read(self.config.max_photo_bytes + 1)
        return data or None

    def photo_error(self, request: Request, exc: VerifyKitError) -> str:
        if isinstance(exc, ImageTooCostly):
            return self.t(request, "error.photo_too_costly")
        if isinstance(exc, ImageError) and "limit" in exc.message:
            return self.t(request, "error.photo_too_large", mib=self.config.max_photo_bytes // (1024 * 1024))
        if isinstance(exc, ImageError):
            return self.t(request, "error.photo_unreadable")
        return self.t(request, "error.try_again")

    # Log in: a passkey, or a password then a second way; or any way the ladder offers.

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            notice = request.session.pop("notice", None)
            return self.render(
                request, "login.html", notice=self.t(request, notice) if isinstance(notice, str) else None
            )
        form = await self.form(request)
        email = str(form.get("email", "")).strip().lower()
        password = str(form.get("password", ""))
        account = await self.confirmed(email)
        # The same work, the same session keys and the same words whether or not the address has
        # an account: an unknown one is checked under a stand-in subject, with no hash.
        self.start_claim(request, email)
        subject = account.subject if account is not None else self.stand_in(email)
        try:
            verdict = await self.s.passwords.verify(
                subject, account.password_hash if account else None, password, client=self.client(request)
            )
        except InvalidInput:
            return self.render(request, "login.html", 400, error=self.t(request, "reason.wrong_password"))
        if not verdict.approved or account is None:
            ways = self.generic_ways(request)
            return self.render(
                request, "login.html", 401, error=self.verdict_words(request, verdict), ways=ways
            )
        if verdict.stored is not None:
            await self.s.accounts.update(account.subject, password_hash=verdict.stored)
        request.session.pop("login_email", None)
        request.session["login"] = account.subject
        request.session["factors"] = [Way.PASSWORD.value]
        return RedirectResponse("/login/second", status_code=303)

    def factors(self, request: Request) -> list[str]:
        factors = request.session.get("factors")
        return list(factors) if isinstance(factors, list) else []

    async def login_second(self, request: Request) -> Response:
        claim = await self.claim(request)
        if claim is None or not claim.proven or claim.account is None:
            return RedirectResponse("/login", status_code=303)
        return await self.second_page(request, claim.account)

    async def second_page(
        self, request: Request, account: Account, status: int = 200, **ctx: Any
    ) -> Response:
        ways = await self.next_ways(request, account, skip=[Way.PASSWORD])
        return self.render(
            request,
            "login_second.html",
            status,
            ways=ways,
            has_app=account.totp is not None,
            has_passkey=Way.PASSKEY in self.enrolled(account),
            **ctx,
        )

    async def login_ways(self, request: Request) -> Response:
        """Every open way in: the page for an email that never arrives, or a password forgotten."""
        claim = await self.claim(request)
        if claim is None:
            return RedirectResponse("/login", status_code=303)
        delivery = None
        challenge_id = request.session.get("login_challenge")
        if claim.proven and isinstance(challenge_id, str):
            with contextlib.suppress(VerifyKitError):
                delivery = (await self.s.email.status(challenge_id)).delivery
        return await self.ways_page(request, claim, delivery=delivery)

    async def ways_page(
        self,
        request: Request,
        claim: Claim,
        *,
        status: int = 200,
        delivery: str | None = None,
        **ctx: Any,
    ) -> Response:
        """The ladder's ways for a proven account, with the closed ones and why; before anything
        is proven, the fixed list, and nothing about the account."""
        account = claim.account
        if not claim.proven or account is None:
            open_ways = {way.value for way in self.generic}
            closed: list[dict[str, str]] = []
        else:
            offer = await self.s.ladder.ways_in(
                account.subject,
                self.enrolled(account),
                delivery=delivery,
                passkey_level=self.passkey_level(account),
            )
            open_ways = {rung.way.value for rung in offer.open}
            closed = [
                {
                    "label": self.t(request, way_key(rung.way)),
                    "why": self.refusal(request, rung.reason or Reason.DENIED, retry_after=rung.retry_after),
                }
                for rung in offer.closed
                if rung.way in SIGN_IN_WAYS and rung.reason is not Reason.NOT_ENROLLED
            ]
        return self.render(
            request,
            "login_ways.html",
            status,
            open_ways=open_ways,
            closed=closed,
            password_done=Way.PASSWORD.value in self.factors(request),
            **ctx,
        )

    async def login_refused(self, request: Request, claim: Claim, back: str, error: str) -> Response:
        if back == "second" and claim.proven and claim.account is not None:
            return await self.second_page(request, claim.account, 401, error=error)
        return await self.ways_page(request, claim, status=401, error=error)

    async def login_app(self, request: Request) -> Response:
        claim = await self.claim(request)
        if claim is None:
            return RedirectResponse("/login", status_code=303)
        form = await self.form(request)
        back = str(form.get("from", "ways"))
        account = claim.account
        real = account.totp if account is not None else None
        # Without an app set up, a stand-in secret nobody holds: refused as a wrong code is.
        stored = real or (await self.s.decoys.totp.enroll(claim.subject, "stand-in")).stored
        try:
            verdict = await self.s.totp.verify(
                claim.subject, stored, str(form.get("code", "")).strip(), client=self.client(request)
            )
        except InvalidInput:
            return await self.login_refused(request, claim, back, self.t(request, "error.code_format"))
        if verdict.approved and real and account is not None:
            return self.sign_in(request, account, [*self.factors(request), Way.AUTHENTICATOR_APP.value])
        words = self.verdict_words(request, verdict) if not verdict.approved else self.wrong_code(request)
        return await self.login_refused(request, claim, back, words)

    def wrong_code(self, request: Request) -> str:
        return self.t(request, "reason.wrong_code")

    async def login_recovery(self, request: Request) -> Response:
        claim = await self.claim(request)
        if claim is None:
            return RedirectResponse("/login", status_code=303)
        form = await self.form(request)
        account = claim.account
        real = account.recovery if account is not None else None
        stored = real or (await self.s.decoys.recovery.generate(claim.subject)).stored
        try:
            verdict = await self.s.recovery.redeem(
                claim.subject, stored, str(form.get("code", "")), client=self.client(request)
            )
        except InvalidInput:
            return await self.ways_page(
                request, claim, status=400, error=self.t(request, "error.recovery_format")
            )
        if real and account is not None and isinstance(verdict.stored, str):
            await self.s.accounts.update(account.subject, recovery=verdict.stored)
        if verdict.approved and real and account is not None:
            return self.sign_in(request, account, [*self.factors(request), Way.RECOVERY_CODE.value])
        words = self.verdict_words(request, verdict) if not verdict.approved else self.wrong_code(request)
        return await self.ways_page(request, claim, status=401, error=words)

    async def login_voucher(self, request: Request) -> Response:
        claim = await self.claim(request)
        if claim is None:
            return RedirectResponse("/login", status_code=303)
        form = await self.form(request)
        text = "".join(str(form.get("voucher", "")).split())
        try:
            redemption = await self.s.vouchers.redeem(claim.subject, text, client=self.client(request))
        except InvalidInput:
            return await self.ways_page(request, claim, status=400, error=self.t(request, "reason.malformed"))
        if redemption.approved and claim.account is not None:
            return self.sign_in(request, claim.account, [*self.factors(request), Way.COUNTER_VOUCHER.value])
        reason = redemption.reason if not redemption.approved else Reason.WRONG_SUBJECT
        error = self.refusal(request, reason, retry_after=redemption.retry_after)
        return await self.ways_page(request, claim, status=401, error=error)

    def mail_for(self, claim: Claim) -> aio.EmailOTP:
        """Codes go out for an account; for an address without one, nothing is sent."""
        return self.s.email if claim.account is not None else self.s.decoys.email

    async def login_email_start(self, request: Request) -> Response:
        claim = await self.claim(request)
        if claim is None:
            return RedirectResponse("/login", status_code=303)
        await self.form(request)
        try:
            challenge = await self.mail_for(claim).start(
                claim.subject, claim.email, locale=self.lang(request), client=self.client(request)
            )
        except RateLimited as exc:
            error = self.refusal(request, Reason.RATE_LIMITED, retry_after=exc.retry_after)
            return await self.ways_page(request, claim, status=429, error=error)
        except InvalidInput:
            return await self.ways_page(request, claim, status=400, error=self.t(request, "error.email"))
        request.session["login_challenge"] = challenge.id
        return RedirectResponse("/login/email", status_code=303)

    async def login_email(self, request: Request) -> Response:
        claim = await self.claim(request)
        challenge_id = request.session.get("login_challenge")
        if claim is None or not isinstance(challenge_id, str):
            return RedirectResponse("/login", status_code=303)
        if request.method == "GET":
            return self.render(request, "login_email.html", destination=claim.email)
        form = await self.form(request)
        if form.get("action") == "resend":
            resent = Resend(self.mail_for(claim), claim.subject, claim.email, challenge_id, "login_challenge")
            return await self.resend(request, resent, "login_email.html")
        # Checked (and audited) by the one verifier, whoever's challenge it is.
        error, verdict = await self.check_code(request, self.s.email, challenge_id, str(form.get("code", "")))
        if verdict is not None and verdict.approved:
            if claim.account is not None:
                return self.sign_in(request, claim.account, [*self.factors(request), Way.EMAIL_CODE.value])
            error = self.wrong_code(request)
        ways = await self.offered(request, claim, skip=[Way.PASSWORD])
        return self.render(
            request,
            "login_email.html",
            401,
            error=error,
            ways=ways,
            destination=claim.email,
            can_resend=True,
        )

    async def logout(self, request: Request) -> Response:
        await self.form(request)
        lang = self.lang(request)
        request.session.clear()
        request.session["lang"] = lang
        return RedirectResponse("/", status_code=303)

    # Passkeys: each ceremony is two calls from portal.js around navigator.credentials (JSON).

    def passkey_answer(self, request: Request, key: str, status: int, **more: Any) -> JSONResponse:
        return JSONResponse({"approved": False, "message": self.t(request, key), **more}, status_code=status)

    def passkey_verifier(self) -> aio.PasskeyVerifier:
        """The passkey verifier; 404 where passkeys are off (no origin, or no passkey extra)."""
        if self.s.passkeys is None:
            raise HTTPException(404, "passkeys are off")
        return self.s.passkeys

    async def registering(self, request: Request) -> tuple[Account | None, str]:
        """Who adds a passkey: the signed-in account, or a sign-up whose email is confirmed."""
        account = await self.current_account(request, "user")
        if account is not None:
            return account, "account"
        account = await self.current_account(request, "signup")
        if account is not None and account.email_verified:
            return account, "signup"
        return None, ""

    async def passkey_register_options(self, request: Request) -> Response:
        passkeys = self.passkey_verifier()
        account, _context = await self.registering(request)
        if account is None:
            return self.passkey_answer(request, "error.signed_out", 401)
        try:
            options = await passkeys.registration_options(
                account.subject,
                user_name=account.email,
                display_name=account.email,
                exclude=account.passkeys,
                client=self.client(request),
            )
        except RateLimited as exc:
            message = self.refusal(request, Reason.RATE_LIMITED, retry_after=exc.retry_after)
            return JSONResponse({"approved": False, "message": message}, status_code=429)
        request.session["passkey_reg"] = options.challenge_id
        return JSONResponse({"options": json.loads(options.options_json)})

    async def passkey_register(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per refusal
        passkeys = self.passkey_verifier()
        response = await passkey_response(request)
        challenge_id = request.session.pop("passkey_reg", None)
        account, context = await self.registering(request)
        if account is None:
            return self.passkey_answer(request, "error.signed_out", 401)
        if response is None or not isinstance(challenge_id, str):
            return self.passkey_answer(request, passkey_reason_key(Reason.MALFORMED), 400)
        try:
            enrollment = await passkeys.register(
                account.subject, challenge_id, response, client=self.client(request)
            )
        except InvalidInput:
            return self.passkey_answer(request, passkey_reason_key(Reason.MALFORMED), 400)
        if not enrollment.approved or enrollment.stored is None or enrollment.credential is None:
            key = passkey_reason_key(enrollment.reason)
            return self.passkey_answer(request, key, 200, reason=enrollment.reason.value)
        try:
            await self.s.accounts.add_passkey(account.subject, enrollment.credential.id, enrollment.stored)
        except ValueError:
            return self.passkey_answer(request, "passkey.taken", 409, reason="taken")
        if context == "signup":
            return JSONResponse({"approved": True, "next": "/signup/recovery"})
        request.session["notice"] = "passkey.added"
        return JSONResponse({"approved": True, "next": "/account"})

    async def passkey_login_options(self, request: Request) -> Response:
        """Options to sign in with a passkey. From the login page the address typed starts a
        claim; an address with no passkey (or no account) is offered a stand-in credential id,
        stable per address, so the options do not say which addresses have passkeys."""
        passkeys = self.passkey_verifier()
        body = await self.small_json(request)
        email = body.get("email")
        if isinstance(email, str) and email.strip():
            self.start_claim(request, email.strip().lower()[:254])
        claim = await self.claim(request)
        if claim is None:
            return self.passkey_answer(request, "passkey.need_email", 400)
        stored = list(claim.account.passkeys) if claim.account is not None else []
        try:
            options = await passkeys.authentication_options(
                claim.subject, credentials=stored, client=self.client(request)
            )
        except RateLimited as exc:
            message = self.refusal(request, Reason.RATE_LIMITED, retry_after=exc.retry_after)
            return JSONResponse({"approved": False, "message": message}, status_code=429)
        except VerifyKitError:  # a stored passkey that cannot be read back
            return self.passkey_answer(request, "error.try_again", 500)
        doc = json.loads(options.options_json)
        if not stored and not claim.proven:
            doc["allowCredentials"] = [self.stand_in_passkey(claim.email)]
        request.session["passkey_auth"] = options.challenge_id
        return JSONResponse({"options": doc})

    def stand_in_passkey(self, email: str) -> dict[str, Any]:
        """A credential descriptor no authenticator holds, shaped like a platform passkey's."""
        digest = self.s.keyring.digest("portal-stand-in-passkey", email.encode()).partition(":")[2]
        return {"type": "public-key", "id": b64url(bytes.fromhex(digest)[:32]), "transports": ["internal"]}

    async def passkey_login(self, request: Request) -> Response:
        passkeys = self.passkey_verifier()
        response = await passkey_response(request)
        challenge_id = request.session.pop("passkey_auth", None)
        claim = await self.claim(request)
        if claim is None or not isinstance(challenge_id, str):
            return self.passkey_answer(request, passkey_reason_key(Reason.EXPIRED), 400)
        if response is None:
            return self.passkey_answer(request, passkey_reason_key(Reason.MALFORMED), 400)
        account = claim.account
        stored = list(account.passkeys) if account is not None else []
        try:
            verdict = await passkeys.verify(
                claim.subject, challenge_id, response, credentials=stored, client=self.client(request)
            )
        except InvalidInput:
            return self.passkey_answer(request, passkey_reason_key(Reason.MALFORMED), 400)
        except TemplateError:
            return self.passkey_answer(request, "error.try_again", 500)
        if verdict.approved and account is not None:
            level = await self.keep_used_passkey(account, verdict)
            self.establish(request, account, [*self.factors(request), Way.PASSKEY.value], passkey_level=level)
            return JSONResponse({"approved": True, "next": "/account"})
        ways = await self.offered(request, claim, skip=[Way.PASSKEY])
        return JSONResponse(
            {
                "approved": False,
                "reason": verdict.reason.value,
                "message": self.verdict_words(request, verdict, key=passkey_reason_key(verdict.reason)),
                "ways": ways,
            }
        )

    async def keep_used_passkey(self, account: Account, verdict: Verdict) -> int:
        """Keep the used passkey's new stored form when it changed; what it reaches alone."""
        passkeys = self.s.passkeys
        assert passkeys is not None
        used = verdict.details.get("credential_id", "")
        if isinstance(verdict.stored, str):
            await self.s.accounts.update_passkey(account.subject, used, verdict.stored)
            return assurance(passkeys.credential(account.subject, verdict.stored))
        for stored in account.passkeys:
            credential = passkeys.credential(account.subject, stored)
            if credential.id == used:
                return assurance(credential)
        return AAL.AAL2

    # Signed in.

    async def account(self, request: Request) -> Response:
        account = await self.current_account(request, "user")
        if account is None:
            return RedirectResponse("/login", status_code=303)
        level = str(request.session.get("level", "none"))
        ways = [self.t(request, way_key(way)) for way in self.enrolled(account)]
        notice = request.session.pop("notice", None)
        return self.render(
            request,
            "account.html",
            email=account.email,
            level=level,
            ways_set=ways,
            passkey_count=len(account.passkeys),
            has_face=bool(account.face),
            notice=self.t(request, notice) if isinstance(notice, str) else None,
        )

    async def face_page(self, request: Request) -> Response:
        account = await self.current_account(request, "user")
        if account is None:
            return RedirectResponse("/login", status_code=303)
        return self.render(request, "face.html", has_face=bool(account.face))

    async def face_check(self, request: Request) -> Response:  # noqa: PLR0911 - one early answer per refusal a person can meet
        """A frame from the camera (JPEG, posted by script) against the enrolled ID photo (JSON)."""
        account = await self.current_account(request, "user")
        if account is None:
            return JSONResponse(
                {"approved": False, "message": self.t(request, "error.signed_out")}, status_code=401
            )
        too_large = self.photo_too_large(request)
        if too_large:
            return JSONResponse(
                {"approved": False, "reason": "too_large", "message": too_large}, status_code=413
            )
        form = await self.form(request, max_files=1)
        if account.face is None:
            message = self.t(request, "reason.not_enrolled")
            return JSONResponse({"approved": False, "reason": "not_enrolled", "message": message})
        photo = await self.photo_bytes(form.get("photo"))
        if photo is None:
            return JSONResponse(
                {"approved": False, "message": self.t(request, "error.photo_missing")}, status_code=400
            )
        try:
            verdict = await self.s.faces.verify(
                account.subject, account.face, photo, client=self.client(request)
            )
        except VerifyKitError as exc:
            reason = "too_costly" if isinstance(exc, ImageTooCostly) else "invalid_image"
            return JSONResponse(
                {"approved": False, "reason": reason, "message": self.photo_error(request, exc)}
            )
        if verdict.approved:
            return JSONResponse(
                {"approved": True, "reason": "approved", "message": self.t(request, "face.approved")}
            )
        ways = await self.next_ways(request, account, skip=[Way.PASSWORD, Way.EMAIL_CODE])
        return JSONResponse(
            {
                "approved": False,
                "reason": verdict.reason.value,
                "message": self.verdict_words(request, verdict),
                "ways": [w["label"] for w in ways],
            }
        )

    # Development only: the mailbox, the demo counter officer and (for tests) the store's clock.

    def dev_only(self) -> None:
        if not self.config.development:
            raise HTTPException(404)

    async def mailbox(self, request: Request) -> Response:
        self.dev_only()
        folder = self.config.mailbox
        files = sorted(folder.glob("*.eml"), reverse=True)[:20] if folder.is_dir() else []
        messages = []
        for path in files:
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            try:
                code = code_in(message)
            except ValueError:
                code = ""
            messages.append({"to": str(message["To"]), "subject": str(message["Subject"]), "code": code})
        return self.render(request, "mailbox.html", messages=messages)

    async def counter(self, request: Request) -> Response:
        self.dev_only()
        officer = self.s.officer
        if request.method == "GET" or officer is None:
            return self.render(request, "counter.html", voucher=None)
        form = await self.form(request)
        account = await self.s.accounts.by_email(str(form.get("email", "")).strip().lower())
        if account is None:
            return self.render(
                request, "counter.html", 404, voucher=None, error=self.t(request, "error.no_account")
            )
        voucher = issue_voucher(
            officer,
            subject=account.subject,
            reason="email_not_delivered",
            unlocks=[w.value for w in self.s.vouchers.settings.unlockable],
            ttl=600,
            now=self.s.clock.now() if self.s.clock else time.time(),
        )
        return self.render(request, "counter.html", voucher=voucher, email=account.email)

    async def dev_clock(self, request: Request) -> Response:
        """Tests only (``PORTAL_TEST_CLOCK=1``): move the store's clock forward, or back to now."""
        self.dev_only()
        clock = self.s.clock
        if clock is None:
            raise HTTPException(404)
        if request.method == "POST":
            form = await self.form(request)
            if form.get("action") == "reset":
                clock.offset = 0.0
            else:
                try:
                    seconds = float(str(form.get("seconds", "0")))
                except ValueError:
                    seconds = 0.0
                clock.offset += min(max(seconds, 0.0), 7 * 86400.0)
        return self.render(request, "dev_clock.html", offset=int(clock.offset), now=until_text(clock.offset))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


async def bounded_body(request: Request, limit: int) -> bytes | None:
    """The request body, or ``None`` once it runs past ``limit`` bytes (nothing more is read)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def passkey_response(request: Request) -> str | None:
    """What navigator.credentials answered, as the JSON text portal.js posts; ``None`` when it
    is too long or not text (verifykit shapes the rest)."""
    body = await bounded_body(request, MAX_RESPONSE_LENGTH)
    if not body:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def create_app(config: Config | None = None) -> Starlette:
    """The portal as an ASGI app (``uvicorn --factory portal.app:create_app``)."""
    config = config if config is not None else Config.from_env()
    services = Services.build(config)
    portal = Portal(services)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await services.close()

    both = ["GET", "POST"]
    post = ["POST"]
    routes = [
        Route("/", portal.guarded(portal.home)),
        Route("/lang/{lang}", portal.guarded(portal.set_lang)),
        Route("/signup", portal.guarded(portal.signup), methods=both),
        Route("/signup/email", portal.guarded(portal.signup_email_code), methods=both),
        Route("/signup/password", portal.guarded(portal.signup_password), methods=both),
        Route("/signup/app", portal.guarded(portal.signup_app), methods=both),
        Route("/signup/recovery", portal.guarded(portal.signup_recovery), methods=both),
        Route("/signup/face", portal.guarded(portal.signup_face), methods=both),
        Route("/api/password-policy", portal.guarded(portal.password_policy), methods=post),
        Route("/login", portal.guarded(portal.login), methods=both),
        Route("/login/second", portal.guarded(portal.login_second)),
        Route("/login/ways", portal.guarded(portal.login_ways)),
        Route("/login/app", portal.guarded(portal.login_app), methods=post),
        Route("/login/recovery", portal.guarded(portal.login_recovery), methods=post),
        Route("/login/voucher", portal.guarded(portal.login_voucher), methods=post),
        Route("/login/email/start", portal.guarded(portal.login_email_start), methods=post),
        Route("/login/email", portal.guarded(portal.login_email), methods=both),
        Route("/passkey/register/options", portal.guarded(portal.passkey_register_options), methods=post),
        Route("/passkey/register", portal.guarded(portal.passkey_register), methods=post),
        Route("/passkey/login/options", portal.guarded(portal.passkey_login_options), methods=post),
        Route("/passkey/login", portal.guarded(portal.passkey_login), methods=post),
        Route("/logout", portal.guarded(portal.logout), methods=post),
        Route("/account", portal.guarded(portal.account)),
        Route("/account/face", portal.guarded(portal.face_page)),
        Route("/api/face-check", portal.guarded(portal.face_check), methods=post),
        Route("/dev/mailbox", portal.guarded(portal.mailbox)),
        Route("/dev/counter", portal.guarded(portal.counter), methods=both),
        Route("/dev/clock", portal.guarded(portal.dev_clock), methods=both),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=config.secret(),
            session_cookie="portal_session",
            same_site="lax",
            https_only=not config.development,
            max_age=8 * 3600,
        ),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.services = services
    return app
