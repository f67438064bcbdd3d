"""Type-checked, not run: how the public API reads to a caller. ``make types`` checks it with
mypy --strict, so a change that makes ordinary use ill-typed fails the build."""

from __future__ import annotations

from verifykit import Keyring, Reason, Verdict, Way, open_store
from verifykit.otp import Challenge, EmailOTP, OTPSettings
from verifykit.store import ChallengeStore, LockoutPolicy, WindowPolicy
from verifykit.testing import Outbox, last_code


def otp_flow() -> bool:
    store: ChallengeStore = open_store("memory://")
    outbox = Outbox()
    otp = EmailOTP(
        store=store,
        keyring=Keyring.generate(),
        mailer=outbox,
        settings=OTPSettings(
            digits=6,
            destination_limit=WindowPolicy(limit=5, window=600),
            lockout=LockoutPolicy(threshold=10, lockout=60, lockout_max=3600, hard_cap=100),
        ),
        ways_in=lambda subject: (Way.RECOVERY_CODE,),
    )
    challenge: Challenge = otp.start("subject-1", "a@example.com", locale="id")
    retry: float = challenge.resend_after
    verdict: Verdict = otp.check(challenge.id, last_code(outbox))
    reason: Reason = verdict.reason
    left: int | None = verdict.attempts_left
    del retry, reason, left
    return verdict.approved


def password_flow(stored: str | None) -> str | None:
    from verifykit.password import PasswordSettings, PasswordVerifier, PolicyResult

    passwords = PasswordVerifier(
        store=open_store("memory://"),
        keyring=Keyring.generate(),
        settings=PasswordSettings(preset="cheap_tests_only"),
    )
    policy: PolicyResult = passwords.check_policy("correct horse battery staple", subject="subject-1")
    if not policy.approved:
        return None
    new_hash: str = passwords.hash("correct horse battery staple", subject="subject-1")
    verdict: Verdict = passwords.verify("subject-1", stored or new_hash, "correct horse battery staple")
    new_state: str | bytes | None = verdict.stored  # None: keep what you have
    return new_state if isinstance(new_state, str) else None


def face_flow(id_photo: bytes, selfie: bytes) -> float | None:
    from verifykit.face import Enrollment, FaceVerifier

    faces = FaceVerifier(store=open_store("memory://"), keyring=Keyring.generate())
    enrollment: Enrollment = faces.enroll("subject-1", id_photo)
    if not enrollment.approved or enrollment.stored is None:
        return None
    verdict: Verdict = faces.verify("subject-1", enrollment.stored, selfie)
    return verdict.distance
