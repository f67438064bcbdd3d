"""``verifykit demo``: the full tour through the gRPC sidecar; ``--in-process`` for the OTP flow alone.

The tour starts ``verifykit serve`` on its embedded defaults (memory store; messages written
to a temporary folder the demo reads as the applicant's mailbox) and follows two made-up
applicants. Ana Putri confirms her email with a one-time code, signs up with a password and
enrols her face with the sample photos. Budi Santoso signs in on a second sidecar whose mail
server is down: the email does not leave, the sidecar offers the other ways in, his
authenticator app gets him in, a guesser hard-locks his account and an officer's voucher
(``verifykit voucher sign``) clears it. Both sidecars write one tamper-evident audit log, which
``verifykit audit verify`` checks after they stop with SIGTERM.

What it needs is checked before it starts: without the grpc extra it names that extra and stops;
without the face extra (or the sample photos) it runs every other section, says what it
skipped and which extra adds it, and exits 0 when what it ran passed. SIGTERM ends it as Ctrl-C
does: the sidecars are stopped and the temporary folder (officer and audit keys included) removed.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from importlib.resources.abc import Traversable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from .._samples import sample_photos

if TYPE_CHECKING:
    from ..server import SidecarProcess

__all__ = ["register", "run_otp_tour", "run_sidecar_tour", "sample_photos"]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="a tour through the gRPC sidecar: email code, password, face (--in-process: email code only)",
    )
    parser.add_argument(
        "--in-process", action="store_true", help="the email OTP flow in this process, without the sidecar"
    )
    parser.add_argument("--store", default="memory://", help="store URL (default memory://)")
    parser.add_argument("--locale", default="en", choices=["en", "id"], help="message language")
    parser.add_argument(
        "--photos",
        type=Path,
        default=None,
        help="folder with eileen_collins.jpg and grace_hopper.jpg (default: the ones verifykit ships)",
    )
    parser.set_defaults(func=_run)


# -- the applicants and the words for what happens to them -----------------------------------------


@dataclass(frozen=True, slots=True)
class Applicant:
    """A made-up person whose account a section uses."""

    name: str
    subject: str
    email: str

    @property
    def first_name(self) -> str:
        return self.name.split()[0]

    def __str__(self) -> str:
        return f"{self.name} (account {self.subject})"


ANA = Applicant("Ana Putri", "applicant-0042", "ana.putri@example.co.id")
BUDI = Applicant("Budi Santoso", "applicant-0077", "budi@example.co.id")
LADDER_SUBJECT = BUDI.subject

# Why a check was refused, for a person: keyed by Reason values.
_WHY = {
    "wrong_code": "that is not the right code",
    "wrong_password": "the password does not match",
    "replayed": "that was already used once, and it works only once",
    "expired": "it has expired",
    "attempts_exhausted": "no tries are left for it",
    "rate_limited": "too many tries in a short time",
    "locked_out": "the account is locked for a while after too many failures",
    "hard_locked": "the account is locked until an officer clears it",
    "canceled": "it was canceled",
    "mismatch": "the two faces are not of the same person",
    "no_face": "no face was found in the photo",
    "multiple_faces": "the photo shows more than one face",
    "low_quality": "the photo is not good enough",
    "face_too_small": "the face in the photo is too small",
    "blurry": "the photo is blurry",
    "too_dark": "the photo is too dark",
    "too_bright": "the photo is too bright",
    "too_short": "the password is too short",
    "too_long": "the password is too long",
    "breached": "the password is one of the most common ones seen in data breaches",
    "repetitive": "the password repeats one character or pattern",
    "sequential": "the password is a run of consecutive characters",
    "context": "the password contains the user name, the email or the service's name",
    "malformed": "that is not a voucher",
    "bad_signature": "a signature on the voucher does not verify",
    "unknown_officer": "the voucher is signed by someone who is not a registered officer",
    "revoked_officer": "the voucher is signed by an officer whose key was revoked",
    "same_officer": "one officer signed the voucher twice",
    "four_eyes_required": "the voucher needs a second officer's signature",
    "ttl_too_long": "the voucher claims a longer life than the service accepts",
    "not_yet_valid": "the voucher is dated in the future",
    "wrong_subject": "the voucher is for another account",
    "not_unlockable": "the voucher names a way in it may not unlock",
}
# The ways in (Way values), as the ladder names them.
_WAY = {
    "email_code": "an email code",
    "password": "the password",
    "authenticator_app": "the authenticator app",
    "recovery_code": "a recovery code",
    "passkey": "a passkey",
    "face": "a face photo",
    "counter_voucher": "an officer's voucher from a counter",
}
# The other ways in, as a refused check offers them to the person.
_OFFER = {
    **_WAY,
    "email_code": "a new code by email",
    "counter_voucher": "a visit to a counter, where an officer checks ID and signs a voucher",
}
# Why a way in is closed (Reason values).
_CLOSED = {
    "locked_out": "locked for a while",
    "hard_locked": "locked until an officer clears it",
    "not_enrolled": "not set up",
    "delivery_failed": "the last email could not be delivered",
    "below_level": "not strong enough here",
}


def _words(table: dict[str, str], value: str) -> str:
    return table.get(value, value.replace("_", " "))


def _tries(n: int) -> str:
    return "no tries left" if n == 0 else f"{n} {'try' if n == 1 else 'tries'} left"


def _explain(v: Any, threshold: float | None = None) -> str:
    """A verdict as a person would want it: what happened, why, and what can happen next."""
    parts = ["approved" if v.approved else f"refused: {_words(_WHY, v.reason.value)}"]
    if v.distance is not None and threshold is not None:
        side = "under" if v.distance <= threshold else "over"
        apart = f"the faces are {v.distance:.3f} apart"
        parts.append(f"{apart}, {side} the {threshold:.2f} threshold for one person")
    # Tries left: on this email code's challenge, else before the account locks.
    left = v.attempts_left if v.attempts_left is not None else v.budget_left
    if v.details.get("hard_locked") == "true":  # this very failure reached the hard cap
        parts.append("the account is now locked until an officer clears it")
    elif not v.approved and left is not None and v.reason.value not in ("replayed", "hard_locked"):
        parts.append(_tries(left))
    if v.retry_after:
        parts.append(f"the next try is possible in {v.retry_after:.0f} s")
    if v.ways_in:
        offers = " or ".join(_words(_OFFER, w.value) for w in v.ways_in)
        parts.append(f"the service can offer instead {offers}")
    return "; ".join(parts)


def _say(step: int, text: str) -> None:
    print(f"\n[{step}] {text}")


def _wrong(code: str) -> str:
    """A mistyped code: the last digit off by one."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def run_otp_tour(store_url: str = "memory://", locale: str = "en") -> int:
    from ..crypto import Keyring
    from ..delivery import Outbox, code_in
    from ..otp import EmailOTP
    from ..store import open_store

    logging.basicConfig(level=logging.WARNING)
    outbox = Outbox()
    store = open_store(store_url)
    otp = EmailOTP(store=store, keyring=Keyring.generate(), mailer=outbox, audit=lambda event: None)
    print(f"verifykit demo: an email one-time code in this process, on {store_url}; the mail stays in")
    print("a local outbox, which stands in for the applicant's mailbox")

    _say(1, f"{ANA} asks for a code to be sent to {ANA.email}")
    ch = otp.start(ANA.subject, ANA.email, locale=locale)
    valid = ch.expires_at - ch.created_at
    print(f"    Sent to {ch.destination} (delivery {ch.delivery}); the code is valid for {valid:.0f} s,")
    print(f"    she has {ch.attempts_left} tries, and may ask for it again in {ch.resend_after:.0f} s")

    try:
        message = outbox.last()
    except LookupError:
        print("    no message was sent")
        return 1
    _say(2, f"The message in {ANA.first_name}'s mailbox:")
    body = message.get_body(preferencelist=("plain",))
    print(f"    From: {message['From']}\n    To: {message['To']}\n    Subject: {message['Subject']}")
    print("    " + (body.get_content() if body is not None else "").strip().replace("\n", "\n    "))
    code = code_in(message)

    wrong = _wrong(code)
    _say(3, f"{ANA.first_name} mistypes the code: {wrong}")
    print(f"    {_explain(otp.check(ch.id, wrong))}")

    spaced = f"{code[:3]} {code[3:]}"
    _say(4, f"She types the right code, with a space as it is often written: {spaced!r}")
    print(f"    {_explain(otp.check(ch.id, spaced))}")

    _say(5, f"Someone replays the same code on {ANA.first_name}'s account")
    print(f"    {_explain(otp.check(ch.id, code))}")

    final = otp.status(ch.id)
    _say(6, f"The challenge is now {final.status.value}; the store never held the code, only its HMAC")
    store.close()
    return 0


# -- stopping cleanly ---------------------------------------------------------------------------------


class _Interrupts:
    """SIGTERM ends the tour as Ctrl-C does: an exception that runs every ``finally`` (sidecars
    stopped, temporary folder removed) instead of the default death that leaves them behind.

    Inside :meth:`held` a signal waits until the block is over, so that a sidecar being started
    or stopped is never left half-way without a handle to stop it by.
    """

    def __init__(self) -> None:
        self._depth = 0
        self._pending: int | None = None

    def _raise(self, signum: int) -> None:
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._depth:
            self._pending = signum
            return
        self._raise(signum)

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Route SIGTERM and SIGINT here (main thread only: elsewhere signals cannot be caught)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self._handle) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    @contextmanager
    def held(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth and self._pending is not None:
                signum, self._pending = self._pending, None
                self._raise(signum)


_interrupts = _Interrupts()


@contextmanager
def _sidecar(args: list[str], log: Path, env: dict[str, str]) -> Iterator[SidecarProcess]:
    """``verifykit serve ARGS`` on a free port, stopped with SIGTERM at the end whatever happens."""
    from ..server import SidecarProcess

    sidecar: SidecarProcess | None = None
    try:
        with _interrupts.held():
            sidecar = SidecarProcess(args, log, env=env)
        yield sidecar
    finally:
        if sidecar is not None:
            with _interrupts.held():
                sidecar.stop()  # again after the caller's stop: returns the same status


# -- what this machine can run ------------------------------------------------------------------------


def _require(module: str) -> None:
    """Raise ModuleNotFoundError for ``module`` now, before anything starts, when it is not installed;
    the command line turns it into one line naming the extra to install."""
    if importlib.util.find_spec(module) is None:
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)


def _face_missing(photos: Traversable) -> str | None:
    """Why the face section cannot run here, with what would add it; None when it can."""
    from .._errors import ConfigurationError
    from ..face import require_installed

    try:
        require_installed()
    except ConfigurationError as exc:
        return exc.message
    if not ((photos / "eileen_collins.jpg").is_file() and (photos / "grace_hopper.jpg").is_file()):
        return (
            f"the sample photos are not in {photos}; "
            "pass --photos with a folder holding eileen_collins.jpg and grace_hopper.jpg"
        )
    return None


# -- the sidecar tour ------------------------------------------------------------------------------


def _latest_code(mail: Path) -> str:
    from ..delivery import code_in

    newest = max(mail.glob("*.eml"), key=lambda p: p.name)
    message = message_from_bytes(newest.read_bytes(), policy=policy.default)
    if not isinstance(message, EmailMessage):
        raise RuntimeError("unreadable message")
    return code_in(message)


def _selfie(photo: bytes) -> bytes:
    """A different picture of the same face: mirrored, re-lit, enlarged, re-encoded."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise RuntimeError("the sample photo does not decode")
    changed = cv2.resize(cv2.convertScaleAbs(cv2.flip(image, 1), alpha=1.1, beta=10), None, fx=1.5, fy=1.5)
    ok, encoded = cv2.imencode(".jpg", changed, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise RuntimeError("could not encode the selfie")
    return bytes(encoded.tobytes())


def _otp_steps(client: Any, mail: Path, locale: str) -> None:
    otp = client.email_otp
    _say(1, f"Email code: {ANA} confirms her address, {ANA.email}")
    challenge = otp.start(ANA.subject, ANA.email, locale=locale)
    print(f"    The service asks for a code: sent to {challenge.destination} "
          f"(delivery {challenge.delivery}), {challenge.attempts_left} tries allowed")  # fmt: skip
    code = _latest_code(mail)
    print(f"    {ANA.first_name} reads the code in the message the sidecar wrote to {mail.name}/: {code}")
    wrong = _wrong(code)
    print(f"    She mistypes it as {wrong}: {_explain(otp.check(challenge.id, wrong))}")
    spaced = f"{code[:3]} {code[3:]}"
    print(f"    She types '{spaced}', with a space as codes are often written: "
          f"{_explain(otp.check(challenge.id, spaced))}")  # fmt: skip
    print(f"    Someone replays {code}: {_explain(otp.check(challenge.id, code))}")
    try:
        otp.resend(challenge.id)
    except Exception as exc:  # a library exception, rebuilt from the gRPC status
        print(f"    Asking for the code to be sent again is refused ({type(exc).__name__}): {exc}")


def _password_steps(client: Any) -> None:
    from .._errors import SidecarError

    _say(2, f"Password: {ANA} signs up with a password, then logs in")
    password = getattr(client, "password", None)
    try:
        if password is None:
            raise SidecarError("this build has no password service", status="UNIMPLEMENTED")
        weak = password.check_policy("password123", subject=ANA.subject)
        verdict = "accepted" if weak.approved else f"refused ({weak.reason}): {weak.message}"
        print(f"    She first tries 'password123': {verdict}")
        stored = password.hash("correct horse battery staple", subject=ANA.subject)
        print(
            f"    She picks 'correct horse battery staple'; the service stores only its hash, {stored[:32]}…"
        )
        bad = password.verify(ANA.subject, stored, "correct horse battery stable")
        print(f"    At login she mistypes it: {_explain(bad)}")
        good = password.verify(ANA.subject, stored, "correct horse battery staple")
        print(f"    She types it right: {_explain(good)}")
    except SidecarError as exc:
        print(f"    skipped: {exc.message} ({exc.status})")


def _face_steps(client: Any, photos: Traversable) -> None:
    from ..face import THRESHOLD_PRESETS

    threshold = THRESHOLD_PRESETS[FACE_PRESET]
    _say(3, f"Face: {ANA} enrols her ID photo, then proves it is her with a selfie")
    id_photo, other = photos / "eileen_collins.jpg", photos / "grace_hopper.jpg"
    face = client.face
    reference = id_photo.read_bytes()
    enrollment = face.enroll(ANA.subject, reference)
    if enrollment.stored is None:
        print(f"    Her ID photo {id_photo.name} is refused: {_words(_WHY, enrollment.reason.value)}")
        return
    print(f"    Her ID photo {id_photo.name} is enrolled: the service keeps a sealed template of "
          f"{len(enrollment.stored)} bytes, not the photo")  # fmt: skip
    print("    (no second public-domain photo of her exists in the project, so the selfie is the")
    print("     ID photo mirrored, re-lit and enlarged: this shows the flow, not the accuracy)")
    template = enrollment.stored
    same = face.verify(ANA.subject, template, _selfie(reference))
    print(f"    Her selfie: {_explain(same, threshold)}")
    someone_else = face.verify(ANA.subject, template, other.read_bytes())
    print(f"    Someone else's photo ({other.name}) for her account: {_explain(someone_else, threshold)}")
    face.index_add(ANA.subject, enrollment.stored)
    matches = face.search(_selfie(reference))
    found = ", ".join(f"{m.key} at {m.distance:.3f}" for m in matches) or "no one"
    print(f"    Searching every enrolled face for her selfie (threshold {threshold:.2f}) finds: {found}")


FACE_PRESET = "standard"
_CAP = 3  # the ladder sidecar's lockout_hard_cap: a hard lock after three wrong codes


def _dead_port() -> int:
    """A loopback port nothing listens on: the mail server that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``verifykit ARGS`` as a counter system or an auditor would run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFYKIT_")}
    return subprocess.run(  # noqa: S603 - this interpreter, arguments of this module
        [sys.executable, "-m", "verifykit", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _ways(offer: Any) -> str:
    opened = "; ".join(_words(_WAY, r.way.value) for r in offer.open) or "none"
    closed = "; ".join(
        f"{_words(_WAY, r.way.value)} ({_words(_CLOSED, r.reason.value)})"
        for r in offer.closed
        if r.reason is not None
    )
    return f"open: {opened}\n        closed: {closed or 'none'}"


def _officer(folder: Path) -> tuple[Path, Path]:
    """An officer's key (0600) and a registry file naming her; returns both paths."""
    from ..vouchers import OfficerRegistry, RegistryFile, generate_officer_key, private_key_pem

    key = generate_officer_key()
    key_file, registry = folder / "officer.key", folder / "officers.json"
    key_file.touch(mode=0o600)
    key_file.write_bytes(private_key_pem(key))
    RegistryFile(registry).save(OfficerRegistry.empty().add(key.public_key(), "Officer Siti"))
    return key_file, registry


def _ladder_steps(client: Any, officer_key: Path) -> None:
    import pyotp

    from .._verdict import Way

    subject, name = BUDI.subject, BUDI.first_name
    totp = client.totp
    enrollment = totp.enroll(subject, BUDI.email)
    app = pyotp.TOTP(enrollment.secret_base32)
    confirmed = totp.confirm(subject, enrollment.stored, app.now())
    print(f"    (at signup {name} set up an authenticator app: {_explain(confirmed)})")
    challenge = client.email_otp.start(subject, BUDI.email, enrolled=[Way.AUTHENTICATOR_APP])
    why = challenge.delivery_reason or "no reason given"
    print(f"    The service asks for an email code: delivery {challenge.delivery} ({why})")
    offers = " or ".join(_words(_OFFER, w.value) for w in challenge.ways_in) or "nothing"
    print(f"    The challenge offers instead {offers}")
    offer = client.ladder.ways_in(
        subject, [Way.EMAIL_CODE, Way.AUTHENTICATOR_APP], delivery=challenge.delivery
    )
    print(f"    The sidecar says which ways in are left:\n        {_ways(offer)}")
    print(f"    So the service asks {name} for the code his authenticator app shows.")

    _say(5, f"{name} types the code his authenticator app shows")
    code = app.at(time.time() + app.interval)  # the app's next code: the first one was spent on the set-up
    print(f"    {code}: {_explain(totp.verify(subject, enrollment.stored, code))}")

    _say(6, f"Someone else guesses codes for {name}'s account ({subject}): {_CAP} wrong ones lock it")
    for guess in ("000000", "123456", "999999")[:_CAP]:
        print(f"    {guess}: {_explain(totp.verify(subject, enrollment.stored, guess))}")
    offer = client.ladder.ways_in(subject, [Way.AUTHENTICATOR_APP])
    print(f"    Ways in now:\n        {_ways(offer)}")

    _say(7, f"At a counter Officer Siti checks {name}'s ID and signs a voucher for account {subject}")
    signed = _cli("voucher", "sign", "--key", str(officer_key), "--subject", subject,
                  "--reason", "locked_out", "--unlock", "authenticator_app")  # fmt: skip
    if signed.returncode != 0:
        raise RuntimeError(f"verifykit voucher sign failed: {signed.stderr.strip()}")
    voucher = signed.stdout.strip()
    print(
        f"    verifykit voucher sign --key officer.key --subject {subject} --reason locked_out "
        "--unlock authenticator_app"
    )
    print(f"      -> {voucher[:40]}… ({len(voucher)} characters, small enough for a QR code)")
    found = client.vouchers.inspect(voucher, subject=subject)
    names = ", ".join(f"{s.name} ({s.status.value})" for s in found.signatures)
    acceptable = "acceptable" if found.acceptable else "not acceptable"
    print(f"    The service inspects it without using it: {acceptable}, signed by {names}")
    redeemed = client.vouchers.redeem(subject, voucher)
    unlocked = " and ".join(_words(_WAY, u) for u in redeemed.unlocked) or "nothing"
    outcome = "approved" if redeemed.approved else "refused"
    print(f"    {name} hands it in: {outcome}; unlocked: {unlocked}")
    again = client.vouchers.redeem(subject, voucher)
    print(f"    The same voucher again: {_explain(again.verdict())}")
    offer = client.ladder.ways_in(subject, [Way.AUTHENTICATOR_APP])
    print(f"    Ways in now:\n        {_ways(offer)}")


def _audit_steps(audit: Path, public: Path) -> int:
    _say(9, "An auditor checks the log both sidecars wrote (hash-chained, signed checkpoints)")
    checked = _cli("audit", "verify", str(audit), "--key", str(public))
    verdict = "intact" if checked.returncode == 0 else "NOT intact"
    print(f"    verifykit audit verify audit.log --key audit.pub -> exit {checked.returncode} ({verdict})")
    for line in (checked.stdout + checked.stderr).strip().splitlines():
        print(f"      {line}")
    return checked.returncode


def _with_sidecar(args: list[str], log: Path, env: dict[str, str], steps: Callable[[Any], None]) -> int:
    """Start a sidecar, take ``steps`` with a client of it, stop it; returns its exit status."""
    from ..client import Client

    with _sidecar(args, log, env) as sidecar:
        with Client(f"127.0.0.1:{sidecar.port}", timeout=60) as client:
            health = client.health()
            print(f"    (the sidecar listens on port {sidecar.port}; its health check says {health})")
            steps(client)
        with _interrupts.held():
            return sidecar.stop()


def run_sidecar_tour(
    store_url: str = "memory://", locale: str = "en", photos: Traversable | None = None
) -> int:
    # Everything the tour cannot do without, checked before anything starts.
    _require("grpc")
    if store_url.startswith(("redis:", "rediss:", "redis+", "rediss+")):
        _require("redis")
    photos = photos if photos is not None else sample_photos()
    skipped: dict[str, str] = {}
    face_missing = _face_missing(photos)
    if face_missing is not None:
        skipped["face"] = face_missing
    with _interrupts.installed():
        return _sidecar_tour(store_url, locale, photos, skipped)


def _sidecar_tour(store_url: str, locale: str, photos: Traversable, skipped: dict[str, str]) -> int:
    from ..auditlog import write_key_pair
    from ..crypto import Keyring
    from ..server import mask_password

    with tempfile.TemporaryDirectory(prefix="verifykit-demo-") as tmp:
        folder = Path(tmp)
        mail, log = folder / "mail", folder / "sidecar.log"
        audit, audit_key, audit_public = folder / "audit.log", folder / "audit.key", folder / "audit.pub"
        write_key_pair(audit_key, audit_public)
        officer_key, _ = _officer(folder)
        print("verifykit demo: what a service gets from the sidecar, with two made-up applicants,")
        print(f"{ANA} and {BUDI}.")
        for section, why in skipped.items():
            print(f"Skipping the {section} section: {why}")
        print(
            f"Starting `verifykit serve` on 127.0.0.1 (store {mask_password(store_url)}); "
            f"its messages go to {mail}, its audit log to {audit}"
        )
        audited = ["--audit-file", str(audit), "--audit-key-file", str(audit_key)]
        face = ["--face-preset", FACE_PRESET, "--face-scores"]
        if "face" in skipped:
            # Face workers would refuse to start without the face extra; in threads the sidecar starts
            # and the tour does not ask it for faces.
            face = ["--face-workers", "thread"]
        args = ["--mailer", f"file:{mail}", "--grace", "5", *audited, *face]
        # Secrets by variable: a command line is shown to every user of the host.
        env = {"VERIFYKIT_STORE": store_url}
        if not store_url.startswith("memory:"):
            # The demo reads codes from files it wrote: a development setup, whatever the store,
            # with a keyring of its own so that it never reads challenges it did not make.
            args.append("--insecure-dev-mailer")
            env["VERIFYKIT_KEYS"] = Keyring.new_keyring_string("demo")

        def ana(client: Any) -> None:
            _otp_steps(client, mail, locale)
            _password_steps(client)
            if "face" in skipped:
                _say(3, f"Face: skipped ({skipped['face']})")
            else:
                _face_steps(client, photos)

        status = _with_sidecar(args, log, env, ana)
        lines = log.read_text(errors="replace").splitlines()
        ladder_args = ["--mailer", f"smtp://127.0.0.1:{_dead_port()}?security=none", "--grace", "5",
                       "--officers-file", str(folder / "officers.json"), "--lockout-hard-cap", str(_CAP),
                       *audited, *face]  # fmt: skip
        _say(4, f"The ladder: {BUDI} signs in on a second sidecar whose mail server is down")
        ladder_status = _with_sidecar(
            ladder_args, folder / "ladder.log", env, lambda client: _ladder_steps(client, officer_key)
        )
        calls = [line for line in lines if '"verifykit.access"' in line]
        stopped = f"exit status {status} and {ladder_status}"
        _say(8, f"Both sidecars stopped on SIGTERM, as an orchestrator stops them: {stopped}.")
        print(f"    The first logged {len(calls)} calls, a JSON line each, e.g.")
        for line in calls[:2]:
            print(f"    {line}")
        print("    (method, status, duration and the account's keyed tag: never codes, passwords or photos)")
        intact = _audit_steps(audit, audit_public)
    passed = status == 0 and ladder_status == 0 and intact == 0
    print()
    print("Every section that ran passed." if passed else "Something above did not go as it should.")
    for section, why in skipped.items():
        print(f"Skipped the {section} section: {why}")
    return 0 if passed else 1


def _run(args: argparse.Namespace) -> int:
    if args.in_process:
        return run_otp_tour(args.store, args.locale)
    return run_sidecar_tour(args.store, args.locale, args.photos)
