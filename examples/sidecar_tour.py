"""Signup and login through the verifykit sidecar, the way a service written in Python would do it.

Start a sidecar in another terminal (messages go to a folder instead of a mail server)::

    verifykit serve --mailer file:/tmp/verifykit-mail

then::

    python examples/sidecar_tour.py --mail-dir /tmp/verifykit-mail

Without ``--mail-dir`` it asks you to type the code the sidecar printed. The service keeps its own
user table (here a dict): verifykit stores no accounts, only challenges and counters.
"""

from __future__ import annotations

import argparse
import sys
from email import message_from_bytes, policy
from email.message import EmailMessage
from importlib import resources
from pathlib import Path

from verifykit import InvalidInput, RateLimited
from verifykit.client import Client
from verifykit.testing import code_in

# The two sample photos ship inside the package (for `verifykit demo`).
PHOTOS = Path(str(resources.files("verifykit") / "_data" / "photos"))
accounts: dict[str, dict[str, object]] = {}  # the service's own user table


def read_code(mail_dir: Path | None, destination: str) -> str:
    if mail_dir is None:
        return input(f"code sent to {destination}: ")
    newest = max(mail_dir.glob("*.eml"), key=lambda p: p.name)
    message = message_from_bytes(newest.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return code_in(message)


def signup(client: Client, subject: str, email: str, password: str, mail_dir: Path | None) -> bool:
    # 1. Prove the address: a code by email.
    challenge = client.email_otp.start(subject, email)
    verdict = client.email_otp.check(challenge.id, read_code(mail_dir, challenge.destination))
    print(f"email {challenge.destination}: {verdict.reason.value}")
    if not verdict.approved:
        return False
    # 2. Choose a password: tell the person which rule a weak one breaks, then store only the hash.
    weak = client.password.check_policy("verifykit2024", subject=subject, context=[email])
    print(f"'verifykit2024' is refused: {weak.reason}: {weak.message}")
    try:
        stored = client.password.hash(password, subject=subject, context=[email])
    except InvalidInput as exc:
        print(f"password refused: {exc.message}")
        return False
    # 3. Enrol the ID photo; keep the sealed template, never the photo.
    enrollment = client.face.enroll(subject, (PHOTOS / "eileen_collins.jpg").read_bytes())
    print(f"face enrolment: {enrollment.reason.value}")
    accounts[subject] = {"email": email, "password_hash": stored, "face_template": enrollment.stored}
    return True


def login(client: Client, subject: str, password: str) -> bool:
    account = accounts.get(subject)
    # An unknown account is verified against nothing, so its answer takes as long as a real one.
    stored = str(account["password_hash"]) if account else None
    try:
        verdict = client.password.verify(subject, stored, password, client="203.0.113.7")
    except RateLimited as exc:
        print(f"too many attempts; retry in {exc.retry_after:.0f} s")
        return False
    if verdict.stored and account:
        account["password_hash"] = verdict.stored  # parameters moved on: store the new hash
    print(f"login {subject}: {verdict.reason.value}")
    return verdict.approved


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", default="127.0.0.1:50051")
    parser.add_argument("--mail-dir", type=Path, default=None, help="the sidecar's --mailer file: folder")
    args = parser.parse_args()
    with Client(args.target) as client:
        client.wait_ready()
        if not signup(
            client, "applicant-42", "ana@example.co.id", "correct horse battery staple", args.mail_dir
        ):
            return 1
        login(client, "applicant-42", "correct horse battery stable")  # a typo: a verdict, not an error
        ok = login(client, "applicant-42", "correct horse battery staple")
        login(client, "nobody-here", "whatever it is")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
