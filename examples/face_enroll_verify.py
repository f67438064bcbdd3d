"""Enrol one photo, verify two others, and check a new applicant for a duplicate enrolment.

Run: python examples/face_enroll_verify.py   (needs the face extra: pip install 'verifykit[face]')

The photos are the two public-domain portraits that ship inside the package for `verifykit demo`.
There is no second redistributable photo of either person, so the "selfie" is made from the
enrolment photo here (mirrored, re-lit and enlarged): it shows the plumbing, not accuracy.
`verifykit bench face` measures accuracy on real pairs of different photos.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from verifykit import AuditEvent, Keyring, open_store
from verifykit.face import FaceIndex, FaceVerifier

# The two sample photos ship inside the package (for `verifykit demo`).
PHOTOS = Path(str(resources.files("verifykit") / "_data" / "photos"))


def selfie_from(path: Path) -> bytes:
    """A different-looking JPEG of the same face: mirrored, brighter, 1.5 times larger."""
    bgr = cv2.imread(str(path))
    bgr = cv2.flip(bgr, 1)
    bgr = cv2.convertScaleAbs(bgr, alpha=1.1, beta=15)
    bgr = cv2.resize(bgr, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(buf.tobytes())


def main() -> None:
    keyring = Keyring.generate()  # production: Keyring.from_env("VERIFYKIT_KEYS")

    def show(event: AuditEvent) -> None:
        print("  audit:", event.action, event.outcome, event.reason, dict(event.details))

    store = open_store("memory://")  # production: the shared store, open_store("redis://...")
    faces = FaceVerifier(store=store, keyring=keyring, audit=show)

    # 1. Enrol the reference photo (an ID photo, say). Store the sealed template with the account.
    enrollment = faces.enroll("applicant-0001", (PHOTOS / "eileen_collins.jpg").read_bytes())
    if not enrollment.approved or enrollment.stored is None:
        print("enrolment refused:", enrollment.reason.value, dict(enrollment.details))
        return
    template = enrollment.stored
    print(f"enrolled: {len(template)}-byte sealed template, face {enrollment.face}")

    # 2. Verify a new photo of the same person, then a photo of someone else. A verdict says
    #    whether and why, not how close: the distance is in the audit event only (a trusted tool
    #    can ask for it in verdicts with FaceSettings(expose_scores=True)).
    same = faces.verify("applicant-0001", template, selfie_from(PHOTOS / "eileen_collins.jpg"))
    print(f"same person:  {same.reason.value}")
    other = faces.verify("applicant-0001", template, (PHOTOS / "grace_hopper.jpg").read_bytes())
    print(f"someone else: {other.reason.value}, {other.budget_left} failures left before a pause")

    # A photo without a face is a reason to show the person, not an error.
    blank = np.full((480, 640, 3), 200, np.uint8)
    print("blank photo: ", faces.verify("applicant-0001", template, blank).reason.value)

    # 3. 1:N: is a new applicant already enrolled under another identity?
    index = FaceIndex(keyring, store=store, audit=show)
    index.add("applicant-0001", template)
    newcomer = faces.enroll("applicant-0002", selfie_from(PHOTOS / "eileen_collins.jpg"))
    if newcomer.stored is not None:
        for match in index.search_template("applicant-0002", newcomer.stored):
            print(f"possible duplicate of {match.key} (distance {match.distance:.3f})")


if __name__ == "__main__":
    main()
