"""Enrol a reference photo, then verify new photos of the same subject against it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np
import numpy.typing as npt

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._charged import charge_client, decision_event
from .._subject import lockout_key, subject_tag, validate_subject
from .._verdict import Fallback, Reason, Verdict
from ..crypto import Keyring
from ..store import ChallengeStore, FailureState, MemoryStore
from ._image import ImageInput
from ._pipeline import Encoding, FaceBox, Found, decode, encode, find
from ._quality import FaceQuality
from ._settings import FaceSettings, MultiFace
from ._template import open_template, seal_template

__all__ = ["Enrollment", "FaceVerifier", "distance", "similarity"]

_VERIFIER = "face"
Image = ImageInput


class _Scores(TypedDict, total=False):
    distance: float
    score: float
    details: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Enrollment:
    """The outcome of enrolling a photo.

    ``ok`` with a sealed ``template`` to store with the subject's record, or not ``ok`` with the
    ``reason`` to show the person (no face, several faces, a quality gate). The photo itself is
    never kept.
    """

    ok: bool
    reason: Reason
    template: bytes | None = None
    face: FaceBox | None = None
    faces: int = 0
    quality: FaceQuality | None = None
    details: Mapping[str, str] = field(default_factory=dict)


def distance(a: npt.NDArray[np.floating], b: npt.NDArray[np.floating]) -> float:
    """Euclidean distance between two encodings, in float64."""
    return float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))


def similarity(dist: float, threshold: float) -> float:
    """A score in [0, 1]: 1 for identical encodings, 0.5 exactly at the threshold, 0 at twice it."""
    return max(0.0, 1.0 - dist / (2.0 * threshold))


def _unusable_details(found: Found, settings: FaceSettings) -> dict[str, str]:
    """What a caller needs to tell the person what to fix; never pixels or encodings."""
    details: dict[str, str] = {"faces": str(len(found.faces))}
    quality = found.quality
    if quality is not None:
        if found.reason is Reason.FACE_TOO_SMALL:
            details.update(face_px=f"{quality.face_px:.0f}", min_face_px=str(settings.min_face_px))
        elif found.reason in (Reason.TOO_DARK, Reason.TOO_BRIGHT):
            details.update(
                brightness=f"{quality.brightness:.0f}",
                min_brightness=f"{settings.min_brightness:g}",
                max_brightness=f"{settings.max_brightness:g}",
            )
        elif found.reason is Reason.BLURRY:
            details.update(sharpness=f"{quality.sharpness:.1f}", min_sharpness=f"{settings.min_sharpness:g}")
    return details


class FaceVerifier:
    """1:1 face verification against sealed templates.

    ``enroll(subject, photo)`` returns a sealed template; ``verify(subject, template, photo)`` says
    whether the photo shows the same person. An unusable photo is a verdict with a reason, never
    an exception; undecodable or oversized input raises :class:`~verifykit.ImageError`, and a
    template that is not this subject's raises :class:`~verifykit.TemplateError`.

    Attempts are limited per subject on the shared store. Only comparisons count: a verify first
    checks (read-only) that the subject is not locked out, then finds and judges the face, and
    charges one failure just before comparing, resetting the count on approval. A photo with no
    usable face is turned away uncharged: it reveals nothing about the enrolled face, and a person
    struggling with light or framing should not be locked out for it. The charge comes before the
    comparison, so concurrent attempts can never exceed the cap.

    A verdict carries the distance and score only when ``settings.expose_scores`` is on (trusted
    callers); the audit event always records the distance.
    """

    def __init__(
        self,
        *,
        keyring: Keyring,
        store: ChallengeStore | None = None,
        settings: FaceSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
    ) -> None:
        self.keyring = keyring
        self.store = store if store is not None else MemoryStore()
        self.settings = settings if settings is not None else FaceSettings()
        self.audit = audit

    # -- helpers ---------------------------------------------------------------------------------

    def _event(
        self, action: str, subject: str, outcome: str, reason: Reason, client: str | None, **details: str
    ) -> None:
        decision_event(
            self.audit, _VERIFIER, action, subject, outcome, reason=reason, client=client, **details
        )

    def _attempts_left(self, state: FailureState) -> int:
        return max(self.settings.lockout.threshold - state.failures, 0)

    def _fallbacks(self, state: FailureState) -> tuple[Fallback, ...]:
        if not state.allowed or state.failures >= self.settings.fallback_after:
            return (Fallback.ASSISTED_CHECK,)
        return ()

    def _locked(self, subject: str, state: FailureState, client: str | None) -> Verdict:
        self._event("verify", subject, "refused", Reason.LOCKED_OUT, client)
        return Verdict(
            approved=False,
            reason=Reason.LOCKED_OUT,
            attempts_left=0,
            retry_after=None if state.hard_locked else state.retry_after,
            fallbacks=(Fallback.ASSISTED_CHECK,),
            details={"hard_locked": "true"} if state.hard_locked else {},
        )

    def _scores(self, dist: float) -> _Scores:
        """Distance, score and threshold for a verdict, only where the settings trust the caller
        with them: an exact distance on every try lets an attacker climb towards the threshold."""
        if not self.settings.expose_scores:
            return {}
        threshold = self.settings.threshold
        return {
            "distance": dist,
            "score": similarity(dist, threshold),
            "details": {"threshold": f"{threshold:g}"},
        }

    def _find(self, image: Image, policy: MultiFace) -> Found:
        return find(decode(image, self.settings), self.settings, policy)

    # -- API -------------------------------------------------------------------------------------

    def encode(self, image: Image, *, policy: MultiFace | None = None) -> tuple[Found, Encoding | None]:
        """Find and encode the face in a photo (the encoding is None when no face is usable).

        For 1:N search and tooling; the encoding is biometric data, so do not log or keep it.
        """
        found = self._find(image, policy if policy is not None else self.settings.enroll_multiple_faces)
        return found, (encode(found, self.settings) if found.usable else None)

    def enroll(self, subject: str, image: Image) -> Enrollment:
        """Make a sealed template from a reference photo (passport, ID card, first selfie)."""
        subject = validate_subject(subject)
        found, encoding = self.encode(image)
        if encoding is None or found.reason is not None:
            reason = found.reason or Reason.NO_FACE
            details = _unusable_details(found, self.settings)
            self._event("enroll", subject, "rejected", reason, None, **details)
            return Enrollment(
                ok=False,
                reason=reason,
                face=found.face,
                faces=len(found.faces),
                quality=found.quality,
                details=details,
            )
        template = seal_template(self.keyring, subject, encoding)
        self._event("enroll", subject, "enrolled", Reason.APPROVED, None)
        return Enrollment(
            ok=True,
            reason=Reason.APPROVED,
            template=template,
            face=found.face,
            faces=len(found.faces),
            quality=found.quality,
        )

    def verify(self, subject: str, template: bytes, image: Image, *, client: str | None = None) -> Verdict:
        """Does ``image`` show the person ``template`` was enrolled from?"""
        subject = validate_subject(subject)
        reference = open_template(self.keyring, subject, template)
        settings = self.settings
        # Every verify call is charged to the client before any image work and never given back:
        # the limit bounds the decoding and encoding one address can demand, however many race.
        client_charge = charge_client(self.store, _VERIFIER, client, settings.client_limit)
        if client_charge.refused:
            self._event("verify", subject, "refused", Reason.RATE_LIMITED, client)
            return client_charge.verdict()
        key = lockout_key(_VERIFIER, subject_tag(self.keyring, subject))
        state = self.store.failure_state(key)
        if not state.allowed:
            return self._locked(subject, state, client)

        found = self._find(image, settings.multiple_faces)
        if found.reason is not None:
            details = _unusable_details(found, settings)
            self._event("verify", subject, "rejected", found.reason, client, **details)
            return Verdict(
                approved=False,
                reason=found.reason,
                attempts_left=self._attempts_left(state),
                fallbacks=self._fallbacks(state),
                details=details,
            )

        charged = self.store.charge(key, settings.lockout)
        if not charged.allowed:
            return self._locked(subject, charged, client)
        dist = distance(encode(found, settings), reference)
        if dist <= settings.threshold:
            self.store.reset_failures(key)
            self._event("verify", subject, "approved", Reason.APPROVED, client, distance=f"{dist:.4f}")
            return Verdict(
                approved=True,
                reason=Reason.APPROVED,
                attempts_left=settings.lockout.threshold,
                **self._scores(dist),
            )
        delay = settings.lockout.delay(charged.failures)
        self._event("verify", subject, "denied", Reason.MISMATCH, client, distance=f"{dist:.4f}")
        return Verdict(
            approved=False,
            reason=Reason.MISMATCH,
            attempts_left=self._attempts_left(charged),
            retry_after=delay if delay > 0 else None,
            fallbacks=self._fallbacks(charged),
            **self._scores(dist),
        )

    def compare(self, image_a: Image, image_b: Image) -> Verdict:
        """Compare two photos directly (no subject, template or attempt limit): a tool for
        operators and the ``verifykit face compare`` command, not a way to authenticate. With no
        limit on tries, its distance is the best hill-climbing oracle there is, so it too gives the
        distance and score only under ``expose_scores``."""
        encodings: list[Encoding] = []
        for label, image in (("a", image_a), ("b", image_b)):
            found = self._find(image, self.settings.multiple_faces)
            if found.reason is not None:
                details = {"image": label, **_unusable_details(found, self.settings)}
                return Verdict(approved=False, reason=found.reason, details=details)
            encodings.append(encode(found, self.settings))
        dist = distance(encodings[0], encodings[1])
        match = dist <= self.settings.threshold
        return Verdict(
            approved=match, reason=Reason.APPROVED if match else Reason.MISMATCH, **self._scores(dist)
        )
