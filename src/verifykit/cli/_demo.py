"""``verifykit demo``: the full tour through the gRPC sidecar; ``--in-process`` for the OTP flow alone.

The tour starts ``verifykit serve`` on its embedded defaults (memory store; messages written
to a temporary folder the demo reads as the applicant's mailbox), walks an applicant through
an email code, a password signup and login, and a face enrolment and verification with the
two sample photos. Then the ladder, on a second sidecar whose mail server is down: the email
does not leave, the sidecar offers the other ways in, an authenticator code gets the applicant
in, a guesser hard-locks the account and an officer's voucher (``verifykit voucher sign``)
clears it. Both sidecars write one tamper-evident audit log, which ``verifykit audit verify``
checks after they stop with SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

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


def _say(step: int, text: str) -> None:
    print(f"\n[{step}] {text}")


def run_otp_tour(store_url: str = "memory://", locale: str = "en") -> int:
    from ..crypto import Keyring
    from ..delivery import Outbox
    from ..delivery._templates import code_in
    from ..otp import EmailOTP
    from ..store import open_store

    logging.basicConfig(level=logging.WARNING)
    outbox = Outbox()
    store = open_store(store_url)
    otp = EmailOTP(store=store, keyring=Keyring.generate(), mailer=outbox, audit=lambda event: None)
    print(f"verifykit demo: email one-time code on {store_url}, mail kept in a local outbox")

    _say(1, "An applicant asks for a code to be sent to ana.putri@example.co.id")
    ch = otp.start("applicant-0042", "ana.putri@example.co.id", locale=locale)
    print(f"    challenge {ch.id}")
    valid = ch.expires_at - ch.created_at
    print(f"    sent to {ch.destination}, delivery {ch.delivery}, valid for {valid:.0f} s,")
    print(f"    {ch.attempts_left} attempts, resend allowed in {ch.resend_after:.0f} s")

    message = outbox.last()
    if message is None:
        print("    no message was sent")
        return 1
    _say(2, "The message as it would be sent:")
    body = message.get_body(preferencelist=("plain",))
    print(f"    From: {message['From']}\n    To: {message['To']}\n    Subject: {message['Subject']}")
    print("    " + (body.get_content() if body is not None else "").strip().replace("\n", "\n    "))
    code = code_in(message)

    wrong = f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"
    _say(3, f"The applicant mistypes the code: {wrong}")
    verdict = otp.check(ch.id, wrong)
    print(
        f"    approved={verdict.approved} reason={verdict.reason.value} attempts_left={verdict.attempts_left}"
    )

    spaced = f"{code[:3]} {code[3:]}"
    _say(4, f"The applicant types the right code, with a space as it is often written: {spaced!r}")
    verdict = otp.check(ch.id, spaced)
    print(f"    approved={verdict.approved} reason={verdict.reason.value}")

    _say(5, "Someone replays the same code")
    verdict = otp.check(ch.id, code)
    print(f"    approved={verdict.approved} reason={verdict.reason.value}")

    final = otp.status(ch.id)
    _say(6, f"Challenge status: {final.status.value}; nothing in the store holds the code, only its HMAC")
    store.close()
    return 0


# -- the sidecar tour ------------------------------------------------------------------------------


def sample_photos() -> Traversable:
    """The two public-domain sample photos, package data so that the demo runs from a wheel."""
    return resources.files("verifykit") / "_data" / "photos"


def _latest_code(mail: Path) -> str:
    from ..delivery._templates import code_in

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


def _verdict(v: Any) -> str:
    parts = [f"approved={v.approved}", f"reason={v.reason.value}"]
    if v.attempts_left is not None:
        parts.append(f"attempts_left={v.attempts_left}")
    if v.distance is not None:
        parts.append(f"distance={v.distance:.3f} score={v.score:.2f}")
    if v.details.get("hard_locked") == "true":
        parts.append("hard_locked")
    if v.fallbacks:
        parts.append("fallbacks=" + ",".join(f.value for f in v.fallbacks))
    return " ".join(parts)


def _otp_steps(client: Any, mail: Path, locale: str) -> None:
    otp = client.email_otp
    _say(1, "Email code: the applicant asks for a code at ana.putri@example.co.id")
    challenge = otp.start("applicant-0042", "ana.putri@example.co.id", locale=locale)
    print(f"    StartEmailOtp -> challenge {challenge.id[:12]}…, sent to {challenge.destination}, "
          f"delivery {challenge.delivery}, {challenge.attempts_left} attempts")  # fmt: skip
    code = _latest_code(mail)
    print(f"    (the applicant reads the code in the message the sidecar wrote: {code})")
    wrong = f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"
    print(f"    CheckEmailOtp {wrong} -> {_verdict(otp.check(challenge.id, wrong))}")
    spaced = f"{code[:3]} {code[3:]}"
    print(f"    CheckEmailOtp '{spaced}' -> {_verdict(otp.check(challenge.id, spaced))}")
    print(f"    CheckEmailOtp {code} again -> {_verdict(otp.check(challenge.id, code))}")
    try:
        otp.resend(challenge.id)
    except Exception as exc:  # a library exception, rebuilt from the gRPC status
        print(f"    ResendEmailOtp -> {type(exc).__name__}: {exc}")


def _password_steps(client: Any) -> None:
    from .._errors import SidecarError

    _say(2, "Password: signup, then login")
    password = getattr(client, "password", None)
    try:
        if password is None:
            raise SidecarError("this build has no password service", status="UNIMPLEMENTED")
        weak = password.check_policy("password123", subject="applicant-0042")
        print(f"    CheckPasswordPolicy 'password123' -> ok={weak.ok} rule={weak.rule}: {weak.message}")
        stored = password.hash("correct horse battery staple", subject="applicant-0042")
        print(f"    HashPassword -> {stored[:32]}… (the service stores this string, not the password)")
        bad = password.verify("applicant-0042", stored, "correct horse battery stable")
        print(f"    VerifyPassword (typo) -> {_verdict(bad)}")
        good = password.verify("applicant-0042", stored, "correct horse battery staple")
        print(f"    VerifyPassword -> {_verdict(good)}")
    except SidecarError as exc:
        print(f"    skipped: {exc.message} ({exc.status})")


def _face_steps(client: Any, photos: Traversable) -> None:
    _say(3, "Face: enrol the ID photo, then verify a selfie and someone else")
    id_photo, other = photos / "eileen_collins.jpg", photos / "grace_hopper.jpg"
    if not (id_photo.is_file() and other.is_file()):
        print(f"    skipped: sample photos not found in {photos} (pass --photos)")
        return
    from .._errors import SidecarError

    face = client.face
    reference = id_photo.read_bytes()
    try:
        enrollment = face.enroll("applicant-0042", reference)
    except SidecarError as exc:
        if exc.status != "UNIMPLEMENTED":
            raise
        print("    skipped: the sidecar has no face service: pip install 'verifykit[face]'")
        return
    print(f"    EnrollFace {id_photo.name} -> ok={enrollment.ok} reason={enrollment.reason.value}, "
          f"sealed template of {len(enrollment.stored or b'')} bytes")  # fmt: skip
    if enrollment.stored is None:
        return
    print("    (no second public-domain photo of her exists in the project, so the selfie is the")
    print("     ID photo mirrored, re-lit and enlarged: this shows the flow, not the accuracy)")
    template = enrollment.stored
    same = face.verify("applicant-0042", template, _selfie(reference))
    print(f"    VerifyFace selfie -> {_verdict(same)}")
    someone_else = face.verify("applicant-0042", template, other.read_bytes())
    print(f"    VerifyFace {other.name} -> {_verdict(someone_else)}")
    face.index_add("applicant-0042", enrollment.stored)
    matches = face.search(_selfie(reference))
    print("    SearchFaceIndex selfie -> " + ", ".join(f"{m.key} at {m.distance:.3f}" for m in matches))


LADDER_SUBJECT = "applicant-0077"
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
    opened = ", ".join(r.way.value for r in offer.open)
    closed = ", ".join(f"{r.way.value} ({r.why.value})" for r in offer.closed if r.why is not None)
    return f"open: {opened}\n        closed: {closed}"


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

    from ..ladder import Way

    subject = LADDER_SUBJECT
    _say(4, "The ladder: a second sidecar whose mail server is down")
    totp = client.totp
    enrollment = totp.enroll(subject, "budi@example.co.id")
    app = pyotp.TOTP(enrollment.secret_base32)
    confirmed = totp.confirm(subject, enrollment.stored, app.now())
    print(f"    (at signup the applicant set up an authenticator app: ConfirmTotpEnrollment -> "
          f"{_verdict(confirmed)})")  # fmt: skip
    challenge = client.email_otp.start(subject, "budi@example.co.id")
    print(f"    StartEmailOtp -> delivery {challenge.delivery} ({challenge.delivery_reason or 'no reason'})")
    offer = client.ladder.ways_in(
        subject, [Way.EMAIL_CODE, Way.AUTHENTICATOR_APP], delivery=challenge.delivery
    )
    print(f"    GetWaysIn -> {_ways(offer)}")

    _say(5, "The applicant types the code the authenticator app shows")
    code = app.at(time.time() + app.interval)  # the app's next code: the first one was spent on the set-up
    print(f"    VerifyTotp {code} -> {_verdict(totp.verify(subject, enrollment.stored, code))}")

    _say(6, f"Someone else guesses codes for the account: {_CAP} wrong ones lock it for good")
    for guess in ("000000", "123456", "999999")[:_CAP]:
        print(f"    VerifyTotp {guess} -> {_verdict(totp.verify(subject, enrollment.stored, guess))}")
    offer = client.ladder.ways_in(subject, [Way.AUTHENTICATOR_APP])
    print(f"    GetWaysIn -> {_ways(offer)}")

    _say(7, "At the counter an officer checks the applicant's ID and signs a voucher")
    signed = _cli("voucher", "sign", "--key", str(officer_key), "--subject", subject,
                  "--reason", "locked_out", "--unlock", "totp")  # fmt: skip
    if signed.returncode != 0:
        raise RuntimeError(f"verifykit voucher sign failed: {signed.stderr.strip()}")
    voucher = signed.stdout.strip()
    print(
        f"    verifykit voucher sign --key officer.key --subject {subject} --reason locked_out --unlock totp"
    )
    print(f"      -> {voucher[:40]}… ({len(voucher)} characters, small enough for a QR code)")
    found = client.vouchers.inspect(voucher, subject=subject)
    names = ", ".join(f"{s.name} {s.status.value}" for s in found.signatures)
    print(f"    InspectVoucher -> acceptable={found.acceptable}, signed by {names} (nothing redeemed)")
    redeemed = client.vouchers.redeem(subject, voucher)
    unlocked = ",".join(redeemed.unlocked)
    print(f"    RedeemVoucher -> approved={redeemed.approved} unlocked={unlocked}")
    again = client.vouchers.redeem(subject, voucher)
    print(f"    RedeemVoucher again -> approved={again.approved} refusal={again.refusal}")
    offer = client.ladder.ways_in(subject, [Way.AUTHENTICATOR_APP])
    print(f"    GetWaysIn -> {_ways(offer)}")


def _ladder_sidecar(folder: Path, store_args: list[str], env: dict[str, str], officer_key: Path) -> int:
    """Run the ladder steps on a sidecar of their own; returns its exit status."""
    from ..client import Client
    from ..server._process import SidecarProcess

    registry = folder / "officers.json"
    args = [
        "--mailer", f"smtp://127.0.0.1:{_dead_port()}?security=none", "--grace", "5",
        "--officers-file", str(registry), "--lockout-hard-cap", str(_CAP), *store_args,
    ]  # fmt: skip
    sidecar = SidecarProcess(args, folder / "ladder.log", env=env)
    try:
        with Client(f"127.0.0.1:{sidecar.port}", timeout=60) as client:
            _ladder_steps(client, officer_key)
    finally:
        status = sidecar.stop()
    return status


def _audit_steps(audit: Path, public: Path) -> int:
    _say(9, "An auditor checks the log both sidecars wrote (hash-chained, signed checkpoints)")
    checked = _cli("audit", "verify", str(audit), "--key", str(public))
    print(f"    verifykit audit verify audit.log --key audit.pub -> exit {checked.returncode}")
    for line in (checked.stdout + checked.stderr).strip().splitlines():
        print(f"      {line}")
    return checked.returncode


def run_sidecar_tour(
    store_url: str = "memory://", locale: str = "en", photos: Traversable | None = None
) -> int:
    from ..auditlog import write_key_pair
    from ..client import Client
    from ..crypto import Keyring
    from ..server._config import mask_password
    from ..server._process import SidecarProcess

    photos = photos if photos is not None else sample_photos()
    with tempfile.TemporaryDirectory(prefix="verifykit-demo-") as tmp:
        folder = Path(tmp)
        mail, log = folder / "mail", folder / "sidecar.log"
        audit, audit_key, audit_public = folder / "audit.log", folder / "audit.key", folder / "audit.pub"
        write_key_pair(audit_key, audit_public)
        officer_key, _ = _officer(folder)
        print(
            f"verifykit demo: starting `verifykit serve` on 127.0.0.1 "
            f"(store {mask_password(store_url)}, messages to {mail}, audit log {audit})"
        )
        audited = ["--audit-file", str(audit), "--audit-key-file", str(audit_key)]
        args = ["--mailer", f"file:{mail}", "--grace", "5", *audited]
        # Secrets by variable: a command line is shown to every user of the host.
        env = {"VERIFYKIT_STORE": store_url}
        if not store_url.startswith("memory:"):
            # The demo reads codes from files it wrote: a development setup, whatever the store,
            # with a keyring of its own so that it never reads challenges it did not make.
            args.append("--insecure-dev-mailer")
            env["VERIFYKIT_KEYS"] = Keyring.new_keyring_string("demo")
        sidecar = SidecarProcess(args, log, env=env)
        try:
            with Client(f"127.0.0.1:{sidecar.port}", timeout=60) as client:
                print(f"    sidecar listening on port {sidecar.port}, health {client.health()}")
                _otp_steps(client, mail, locale)
                _password_steps(client)
                _face_steps(client, photos)
        finally:
            status = sidecar.stop()
            lines = log.read_text(errors="replace").splitlines()
        ladder_status = _ladder_sidecar(folder, audited, env, officer_key)
        calls = [line for line in lines if '"verifykit.access"' in line]
        _say(8, f"Stopped both sidecars with SIGTERM: exit status {status} and {ladder_status}; "
             f"the first logged {len(calls)} calls, e.g.")  # fmt: skip
        for line in calls[:2]:
            print(f"    {line}")
        print("    (method, status, duration and the subject's keyed tag: never codes, passwords or photos)")
        intact = _audit_steps(audit, audit_public)
    return 0 if status == 0 and ladder_status == 0 and intact == 0 else 1


def _run(args: argparse.Namespace) -> int:
    if args.in_process:
        return run_otp_tour(args.store, args.locale)
    return run_sidecar_tour(args.store, args.locale, args.photos)
