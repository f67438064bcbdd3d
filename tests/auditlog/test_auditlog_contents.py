"""What records hold: the decision, never the secret that decided it."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifykit import Keyring
from verifykit.auditlog import AuditLog, verify_log
from verifykit.delivery import Outbox
from verifykit.otp import EmailOTP
from verifykit.password import PasswordSettings, PasswordVerifier
from verifykit.store import MemoryStore
from verifykit.testing import last_code

ADDRESS = "ana.putri.secret@example.co.id"
PASSWORD = "correct horse battery staple 91"
SUBJECT = "applicant-7731"


def test_email_otp_and_password_decisions_are_logged_without_codes_passwords_or_addresses(
    log_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    keyring, store, outbox = Keyring.generate(), MemoryStore(), Outbox()
    with AuditLog(log_path, signing_key, keyring=keyring) as log:
        otp = EmailOTP(store=store, keyring=keyring, mailer=outbox, audit=log)
        challenge = otp.start(SUBJECT, ADDRESS)
        code = last_code(outbox)
        otp.check(challenge.id, "000000" if code != "000000" else "111111")
        assert otp.check(challenge.id, code).approved
        passwords = PasswordVerifier(
            store=store, keyring=keyring, settings=PasswordSettings(preset="cheap_tests_only"), audit=log
        )
        stored = passwords.hash(PASSWORD, subject=SUBJECT)
        passwords.verify(SUBJECT, stored, PASSWORD + "!")
        assert passwords.verify(SUBJECT, stored, PASSWORD).approved
    text = log_path.read_text(encoding="ascii")
    assert text.count('"kind":"record"') >= 5  # the decisions are there...
    for secret in (code, PASSWORD, ADDRESS, "ana.putri", SUBJECT, stored):
        assert secret not in text  # ...their secrets are not
    assert "a***@example.co.id" in text  # the masked destination is
    assert verify_log(log_path, signing_key.public_key()).ok


def test_records_name_each_decision_by_its_way_in(log_path: Path, signing_key: Ed25519PrivateKey) -> None:
    keyring, store, outbox = Keyring.generate(), MemoryStore(), Outbox()
    with AuditLog(log_path, signing_key, keyring=keyring) as log:
        otp = EmailOTP(store=store, keyring=keyring, mailer=outbox, audit=log)
        challenge = otp.start(SUBJECT, ADDRESS)
        assert otp.check(challenge.id, last_code(outbox)).approved
    records = [json.loads(line) for line in log_path.read_text(encoding="ascii").splitlines()]
    verifiers = {r["verifier"] for r in records if r["kind"] == "record"}
    assert verifiers == {"email_code"}  # the way's name, not the store keys' "otp"
