"""The fallback ladder with the memory store: the email never arrives, so the person climbs
down to an authenticator app, then recovery codes, then a counter.

Run: python examples/fallback_ladder.py
"""

from __future__ import annotations

import pyotp

from verifykit import AuditEvent, Keyring, Reason
from verifykit.fallbacks import RecoveryCodes, RecoverySettings, TOTPSettings, TOTPVerifier
from verifykit.store import LockoutPolicy, MemoryStore
from verifykit.vouchers import OfficerRegistry, Vouchers, generate_officer_key, issue_voucher


def main() -> None:
    store = MemoryStore()  # production: verifykit.store.open_store("redis://...")
    keyring = Keyring.generate()  # production: Keyring.from_env("VERIFYKIT_KEYS")
    audit = print_event
    subject = "application-2023-000123"

    # Enrolment, once: the caller keeps each verifier's `stored` value with the account.
    totp = TOTPVerifier(
        store=store,
        keyring=keyring,
        audit=audit,
        settings=TOTPSettings(issuer="M-Paspor", lockout=LockoutPolicy(threshold=3, lockout=60, hard_cap=3)),
    )
    enrollment = totp.enroll(subject, "budi@example.co.id")
    print("scan this as a QR code:", enrollment.provisioning_uri.split("?")[0], "...")
    recovery = RecoveryCodes(
        store=store, keyring=keyring, audit=audit, settings=RecoverySettings.preset("wallet")
    )
    issued = recovery.generate(subject)
    print("print these once:", ", ".join(issued.codes))
    saved_codes = issued.stored

    # Rung 1: the authenticator app. The phone computes the code; here pyotp stands in for it.
    phone = pyotp.TOTP(enrollment.secret_base32)
    verdict = totp.verify(subject, enrollment.stored, phone.now())
    print("authenticator app:", verdict.reason.value)
    again = totp.verify(subject, enrollment.stored, phone.now())
    print("same code again:", again.reason.value)

    # Rung 2: a recovery code, typed sloppily; the caller saves the shortened set.
    result = recovery.redeem(subject, saved_codes, issued.codes[0].upper().replace("-", " "))
    print("recovery code:", result.reason.value, f"({result.details['remaining']} left)")
    if result.stored is not None:
        saved_codes = result.stored

    # Someone guesses at the app (the replay above counted as a failure too) until the
    # subject is hard-locked at this demo's cap of 3; even the right code is refused then.
    for _ in range(2):
        totp.verify(subject, enrollment.stored, "000000")
    locked = totp.verify(subject, enrollment.stored, phone.now())
    print("after three failures:", locked.reason.value, "- offered instead:", ", ".join(locked.ways_in))

    # Rung 3: the counter. Officer Siti checks the passport and signs a voucher with her own key
    # (at a real counter: `verifykit voucher sign --key siti.key ...`, shown as a QR code); the
    # service redeems it once, which clears the lockouts it names.
    siti = generate_officer_key()  # production: `verifykit officer keygen|prove`, then `officer add --proof`
    officers = OfficerRegistry.empty().add(siti.public_key(), "Siti")  # production: RegistryFile(path)
    voucher = issue_voucher(
        siti, subject=subject, reason="locked_out", unlocks=["authenticator_app"], ttl=600
    )
    print(f"voucher ({len(voucher)} characters):", voucher[:24], "...")
    vouchers = Vouchers(store=store, keyring=keyring, registry=officers, audit=audit)
    redemption = vouchers.redeem(subject, voucher)
    print("counter voucher:", redemption.verdict().reason.value, "unlocked", ",".join(redemption.unlocked))
    print("the same voucher again:", vouchers.redeem(subject, voucher).reason.value)
    # A fresh step's code works again (the one used above stays spent).
    later = phone.at(store.now() + 30)
    verdict = totp.verify(subject, enrollment.stored, later, at=store.now() + 30)
    assert verdict.reason is Reason.APPROVED
    print("authenticator app again:", verdict.reason.value)


def print_event(event: AuditEvent) -> None:
    print("  audit:", event.verifier, event.action, event.outcome, event.reason, dict(event.details))


if __name__ == "__main__":
    main()
