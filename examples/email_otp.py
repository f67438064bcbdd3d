"""Email one-time code with the memory store and an in-memory outbox.

Run: python examples/email_otp.py
"""

from __future__ import annotations

from verifykit import Keyring, Reason, Way
from verifykit.otp import EmailOTP, OTPSettings
from verifykit.testing import MemoryStore, Outbox, last_code


def main() -> None:
    outbox = Outbox()
    otp = EmailOTP(
        store=MemoryStore(),  # production: open_store("redis://...")
        keyring=Keyring.generate(),  # production: Keyring.from_env("VERIFYKIT_KEYS")
        mailer=outbox,  # production: verifykit.delivery.SMTPMailer(...)
        settings=OTPSettings(service_name="M-Paspor"),
        ways_in=lambda subject: (Way.RECOVERY_CODE, Way.COUNTER_VOUCHER),
        audit=lambda event: print("  audit:", event.action, event.outcome, event.reason),
    )

    challenge = otp.start("application-2023-000123", "budi@example.co.id", locale="id")
    print(f"sent to {challenge.destination}: delivery {challenge.delivery}")
    if challenge.delivery == "failed":
        print("offer instead:", [w.value for w in challenge.ways_in])
        return

    verdict = otp.check(challenge.id, "000000")
    if not verdict.approved and verdict.reason is Reason.WRONG_CODE:
        print(f"wrong code, {verdict.attempts_left} attempts left")

    verdict = otp.check(challenge.id, last_code(outbox))
    print("approved" if verdict.approved else f"refused: {verdict.reason}")


if __name__ == "__main__":
    main()
