"""``verifykit demo``: the email OTP flow on embedded defaults, step by step."""

from __future__ import annotations

import argparse
import logging
from typing import Any

__all__ = ["register", "run_otp_tour"]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo", help="walk through an email OTP flow on the memory store and a local outbox"
    )
    parser.add_argument("--store", default="memory://", help="store URL (default memory://)")
    parser.add_argument("--locale", default="en", choices=["en", "id"], help="message language")
    parser.set_defaults(func=_run)


def _say(step: int, text: str) -> None:
    print(f"\n[{step}] {text}")


def run_otp_tour(store_url: str = "memory://", locale: str = "en") -> int:
    from ..crypto import Keyring
    from ..otp import EmailOTP
    from ..store import open_store
    from ..testing import Outbox, code_in

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


def _run(args: argparse.Namespace) -> int:
    return run_otp_tour(args.store, args.locale)
