"""FaceVerifier: enrolment, verdicts, quality reasons, sealed templates and per-subject lockout."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest
from face_photos import DATA, photo

from flavours import Flavour
from verifykit import (
    AuditEvent,
    ConfigurationError,
    ImageError,
    InvalidInput,
    Keyring,
    Reason,
    TemplateError,
    Way,
    WindowPolicy,
)
from verifykit.face import FaceSettings, FaceVerifier, MultiFace
from verifykit.face._template import open_template, seal_template
from verifykit.store import LockoutPolicy, MemoryStore
from verifykit.testing import FakeClock

MakeFace = Callable[..., FaceVerifier]

OBAMA = "Barack_Obama__obama.jpg"
OBAMA_OTHER = "Barack_Obama__obama2.jpg"
BIDEN = "Joe_Biden__biden.jpg"


def jpeg(bgr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buf.tobytes()


def altered(name: str, change: str) -> bytes:
    bgr = cv2.imread(str(DATA / name))
    if change == "blur":
        return jpeg(cv2.GaussianBlur(bgr, (0, 0), 8))
    if change == "dark":
        return jpeg((bgr * 0.12).astype(np.uint8))
    if change == "bright":
        return jpeg(cv2.convertScaleAbs(bgr, alpha=0.3, beta=200))
    if change == "small":
        return jpeg(cv2.resize(bgr, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA))
    raise AssertionError(change)


@pytest.fixture
def scoring(make_face: MakeFace) -> FaceVerifier:
    """A verifier for a trusted caller: verdicts carry the distance and score."""
    return make_face(expose_scores=True)


# -- enrolment -----------------------------------------------------------------------------------


def test_enrolling_a_clear_photo_returns_a_sealed_template(verifier: FaceVerifier) -> None:
    enrollment = verifier.enroll("ana", photo(OBAMA))
    assert enrollment.approved and enrollment.reason is Reason.APPROVED
    assert enrollment.stored is not None
    assert enrollment.faces == 1 and enrollment.face is not None
    assert enrollment.quality is not None and enrollment.quality.face_px >= 60


def test_enrolling_a_photo_without_a_face_is_a_reason_not_an_error(verifier: FaceVerifier) -> None:
    enrollment = verifier.enroll("ana", photo("noface__rocket.jpg"))
    assert not enrollment.approved
    assert enrollment.reason is Reason.NO_FACE
    assert enrollment.stored is None


def test_enrolling_a_group_photo_is_refused_with_multiple_faces(verifier: FaceVerifier) -> None:
    enrollment = verifier.enroll("ana", photo("multi__kit_with_rose.jpg"))
    assert enrollment.reason is Reason.MULTIPLE_FACES
    assert enrollment.details["faces"] == "2"


def test_enrolling_undecodable_bytes_raises_image_error(verifier: FaceVerifier) -> None:
    with pytest.raises(ImageError):
        verifier.enroll("ana", photo(OBAMA)[:5000])


def test_an_invalid_subject_is_refused_before_any_work(verifier: FaceVerifier) -> None:
    with pytest.raises(InvalidInput):
        verifier.enroll("", photo(OBAMA))


# -- verdicts ------------------------------------------------------------------------------------


def test_another_photo_of_the_same_person_is_approved(scoring: FaceVerifier, obama_template: bytes) -> None:
    verdict = scoring.verify("obama", obama_template, photo(OBAMA_OTHER))
    assert verdict.approved and verdict.reason is Reason.APPROVED
    assert verdict.distance is not None and verdict.distance <= 0.6
    assert verdict.score is not None and 0.5 <= verdict.score <= 1.0


def test_a_photo_of_someone_else_is_a_mismatch(scoring: FaceVerifier, obama_template: bytes) -> None:
    verdict = scoring.verify("obama", obama_template, photo(BIDEN))
    assert not verdict.approved and verdict.reason is Reason.MISMATCH
    assert verdict.distance is not None and verdict.distance > 0.6
    assert verdict.score is not None and verdict.score < 0.5


@pytest.mark.parametrize(
    ("probe", "approved"), [(OBAMA_OTHER, True), (BIDEN, False)], ids=["match", "mismatch"]
)
def test_by_default_a_verdict_says_only_whether_and_why_never_how_close(
    verifier: FaceVerifier, obama_template: bytes, probe: str, approved: bool
) -> None:
    verdict = verifier.verify("obama", obama_template, photo(probe))
    assert verdict.approved is approved
    assert (verdict.distance, verdict.score) == (None, None)
    assert not {"distance", "score", "threshold"} & set(verdict.details)


def test_scores_are_off_unless_a_trusted_caller_turns_them_on() -> None:
    assert FaceSettings().expose_scores is False
    assert FaceSettings(expose_scores=True).expose_scores is True


def test_a_numpy_rgb_array_is_accepted(verifier: FaceVerifier, obama_template: bytes) -> None:
    rgb = cv2.cvtColor(cv2.imread(str(DATA / OBAMA_OTHER)), cv2.COLOR_BGR2RGB)
    assert verifier.verify("obama", obama_template, rgb).approved


def test_a_stricter_preset_rejects_what_the_standard_one_accepts(
    scoring: FaceVerifier, make_face: MakeFace, obama_template: bytes
) -> None:
    loose_match = scoring.verify("obama", obama_template, photo(OBAMA_OTHER))
    assert loose_match.approved and loose_match.distance is not None
    threshold = loose_match.distance - 0.01
    strict = make_face(threshold=threshold)
    assert strict.verify("obama", obama_template, photo(OBAMA_OTHER)).reason is Reason.MISMATCH


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("blur", Reason.BLURRY),
        ("dark", Reason.TOO_DARK),
        ("bright", Reason.TOO_BRIGHT),
        ("small", Reason.FACE_TOO_SMALL),
    ],
)
def test_each_quality_gate_has_its_own_reason(
    verifier: FaceVerifier, obama_template: bytes, change: str, reason: Reason
) -> None:
    verdict = verifier.verify("obama", obama_template, altered(OBAMA_OTHER, change))
    assert verdict.reason is reason
    assert not verdict.approved


def test_a_group_photo_at_verification_is_refused_by_default(
    verifier: FaceVerifier, obama_template: bytes
) -> None:
    verdict = verifier.verify("obama", obama_template, photo("multi__obama_and_biden.jpg"))
    assert verdict.reason is Reason.MULTIPLE_FACES


def test_the_largest_face_policy_verifies_the_main_person(make_face: MakeFace) -> None:
    fv = make_face(multiple_faces=MultiFace.LARGEST)
    kit = fv.enroll("kit", photo("Kit_Harington__john2.jpg"))
    assert kit.stored is not None
    verdict = fv.verify("kit", kit.stored, photo("multi__kit_with_rose.jpg"))
    assert verdict.reason in (Reason.APPROVED, Reason.MISMATCH)  # decided, not refused


def test_compare_gives_distance_and_decision(scoring: FaceVerifier) -> None:
    same = scoring.compare(photo(OBAMA), photo(OBAMA_OTHER))
    other = scoring.compare(photo(OBAMA), photo(BIDEN))
    assert same.approved and other.reason is Reason.MISMATCH
    assert same.distance is not None and other.distance is not None and same.distance < other.distance
    assert other.details["threshold"] == "0.6"


def test_compare_gives_only_the_decision_unless_scores_are_exposed(verifier: FaceVerifier) -> None:
    other = verifier.compare(photo(OBAMA), photo(BIDEN))
    assert other.reason is Reason.MISMATCH
    assert (other.distance, other.score, dict(other.details)) == (None, None, {})


def test_compare_says_which_photo_had_no_face(verifier: FaceVerifier) -> None:
    verdict = verifier.compare(photo(OBAMA), photo("noface__coffee.png"))
    assert verdict.reason is Reason.NO_FACE
    assert verdict.details["image"] == "b"


# -- templates -----------------------------------------------------------------------------------


def test_a_template_opens_only_for_its_subject(verifier: FaceVerifier, obama_template: bytes) -> None:
    with pytest.raises(TemplateError):
        verifier.verify("mallory", obama_template, photo(OBAMA_OTHER))


@pytest.mark.parametrize("position", [0, 10, 40, -1])
def test_a_tampered_template_is_refused(verifier: FaceVerifier, obama_template: bytes, position: int) -> None:
    tampered = bytearray(obama_template)
    tampered[position] ^= 0x01
    with pytest.raises(TemplateError):
        verifier.verify("obama", bytes(tampered), photo(OBAMA_OTHER))


def test_a_template_from_another_keyring_is_refused(obama_template: bytes) -> None:
    stranger = FaceVerifier(store=MemoryStore(), keyring=Keyring.generate(), audit=None)
    with pytest.raises(TemplateError):
        stranger.verify("obama", obama_template, photo(OBAMA_OTHER))


def test_a_template_still_opens_after_a_new_key_is_rotated_in() -> None:
    old = Keyring.generate("k1")
    encoding = np.linspace(-0.2, 0.2, 128)
    template = seal_template(old, "ana", encoding)
    rotated = Keyring({"k1": old._keys["k1"], "k2": b"\x07" * 32}, tag_key=b"\x08" * 32)
    assert np.allclose(open_template(rotated, "ana", template), encoding, atol=1e-7)


def test_a_template_holds_no_readable_encoding() -> None:
    keyring = Keyring.generate()
    encoding = np.linspace(-0.2, 0.2, 128)
    template = seal_template(keyring, "ana", encoding)
    assert encoding.astype("<f4").tobytes()[:16] not in template
    assert b"dlib" not in template


def test_a_template_must_be_bytes(verifier: FaceVerifier) -> None:
    with pytest.raises(InvalidInput):
        verifier.verify("obama", "not bytes", photo(OBAMA))  # type: ignore[arg-type]


def test_template_problems_are_found_before_the_photo_is_decoded(verifier: FaceVerifier) -> None:
    with pytest.raises(TemplateError):
        verifier.verify("obama", b"\x01\x02k1" + b"\x00" * 60, b"not even an image")


# -- failures, lockout and other ways in ------------------------------------------------------


@pytest.fixture
def lockout_verifier(make_face: MakeFace) -> MakeFace:
    """``lockout_verifier(store=None, **settings)``: 3 comparisons, then a pause; other ways in from 2."""
    policy = LockoutPolicy(threshold=3, lockout=60, lockout_max=600, hard_cap=100)

    def make(*, store: object = None, **settings: object) -> FaceVerifier:
        return make_face(store=store, lockout=policy, fallback_after=2, **settings)

    return make


def test_repeated_mismatches_lock_the_subject_out_on_every_backend(
    lockout_verifier: MakeFace, flavour: Flavour, store_url: str, obama_template: bytes
) -> None:
    fv = lockout_verifier(store=flavour.store(store_url))
    first = fv.verify("obama", obama_template, photo(BIDEN))
    assert first.reason is Reason.MISMATCH and first.budget_left == 2 and first.ways_in == ()
    second = fv.verify("obama", obama_template, photo(BIDEN))
    assert second.budget_left == 1 and second.ways_in == (Way.COUNTER_VOUCHER,)
    third = fv.verify("obama", obama_template, photo(BIDEN))
    assert third.budget_left == 0 and third.retry_after is not None and third.retry_after > 0
    locked = fv.verify("obama", obama_template, photo(OBAMA_OTHER))
    assert locked.reason is Reason.LOCKED_OUT and not locked.approved
    assert locked.retry_after is not None and 0 < locked.retry_after <= 60
    assert locked.ways_in == (Way.COUNTER_VOUCHER,)


def test_the_lockout_is_shared_by_every_verifier_on_the_store(
    lockout_verifier: MakeFace, flavour: Flavour, store_url: str, obama_template: bytes
) -> None:
    store = flavour.store(store_url)
    one, two = lockout_verifier(store=store), lockout_verifier(store=store)
    for fv in (one, two, one):
        fv.verify("obama", obama_template, photo(BIDEN))
    assert two.verify("obama", obama_template, photo(OBAMA_OTHER)).reason is Reason.LOCKED_OUT


def test_an_approval_resets_the_failure_count(
    lockout_verifier: MakeFace, flavour: Flavour, store_url: str, obama_template: bytes
) -> None:
    fv = lockout_verifier(store=flavour.store(store_url))
    fv.verify("obama", obama_template, photo(BIDEN))
    fv.verify("obama", obama_template, photo(BIDEN))
    assert fv.verify("obama", obama_template, photo(OBAMA_OTHER)).approved
    assert fv.verify("obama", obama_template, photo(BIDEN)).budget_left == 2


def test_a_photo_without_a_usable_face_is_not_charged_as_a_failure(
    lockout_verifier: MakeFace, obama_template: bytes
) -> None:
    fv = lockout_verifier()
    for _ in range(4):
        verdict = fv.verify("obama", obama_template, photo("noface__chelsea.png"))
        assert verdict.reason is Reason.NO_FACE and verdict.budget_left == 3
    assert fv.verify("obama", obama_template, photo(OBAMA_OTHER)).approved


def test_a_locked_subject_is_refused_without_looking_at_the_photo(
    lockout_verifier: MakeFace, obama_template: bytes
) -> None:
    fv = lockout_verifier()
    for _ in range(3):
        fv.verify("obama", obama_template, photo(BIDEN))
    assert fv.verify("obama", obama_template, b"garbage, never decoded").reason is Reason.LOCKED_OUT


def test_the_lockout_expires_with_the_stores_clock(
    lockout_verifier: MakeFace, flavour: Flavour, obama_template: bytes
) -> None:
    clock = FakeClock()
    fv = lockout_verifier(store=flavour.memory_store(MemoryStore(clock=clock)))
    for _ in range(3):
        fv.verify("obama", obama_template, photo(BIDEN))
    clock.advance(61)
    assert fv.verify("obama", obama_template, photo(OBAMA_OTHER)).approved


def test_lockouts_are_per_subject(
    lockout_verifier: MakeFace, verifier: FaceVerifier, obama_template: bytes
) -> None:
    fv = lockout_verifier()
    biden = verifier.enroll("biden", photo(BIDEN))
    assert biden.stored is not None
    for _ in range(3):
        fv.verify("obama", obama_template, photo(BIDEN))
    assert fv.verify("biden", biden.stored, photo("Joe_Biden__biden2.jpg")).approved


def test_a_client_over_its_limit_is_told_to_wait(lockout_verifier: MakeFace, obama_template: bytes) -> None:
    fv = lockout_verifier(client_limit=WindowPolicy(limit=1, window=60))
    assert fv.verify("obama", obama_template, photo(OBAMA_OTHER), client="10.0.0.7").approved
    limited = fv.verify("obama", obama_template, photo(OBAMA_OTHER), client="10.0.0.7")
    assert limited.reason is Reason.RATE_LIMITED and limited.retry_after is not None


# -- audit ---------------------------------------------------------------------------------------


def test_every_decision_is_audited_without_templates_or_pixels(make_face: MakeFace) -> None:
    events: list[AuditEvent] = []
    fv = make_face(audit=events.append)
    enrollment = fv.enroll("ana", photo(OBAMA))
    assert enrollment.stored is not None
    fv.verify("ana", enrollment.stored, photo(BIDEN), client="10.0.0.9")
    fv.verify("ana", enrollment.stored, photo("noface__coffee.png"))
    assert [(e.action, e.outcome, e.reason) for e in events] == [
        ("enroll", "enrolled", "approved"),
        ("verify", "denied", "mismatch"),
        ("verify", "rejected", "no_face"),
    ]
    # The audit sink is trusted: it keeps the distance that the verdict (scores off) leaves out.
    assert events[1].client == "10.0.0.9" and float(events[1].details["distance"]) > 0.6
    for event in events:
        text = event.to_json()
        assert enrollment.stored.hex()[:32] not in text
        assert all(len(value) < 40 for value in event.details.values())


# -- settings ------------------------------------------------------------------------------------


def test_presets_name_thresholds() -> None:
    assert FaceSettings.preset("standard").threshold == 0.6
    assert FaceSettings.preset("strict").threshold < 0.6
    with pytest.raises(ConfigurationError):
        FaceSettings.preset("lenient")


@pytest.mark.parametrize(
    "bad",
    [
        {"threshold": 0.0},
        {"threshold": float("nan")},
        {"min_brightness": 200, "max_brightness": 100},
        {"multiple_faces": "sometimes"},
        {"background_face_ratio": 1.0},
        {"num_jitters": 0},
        {"max_search_distance": 0.0},
        {"max_search_distance": float("inf")},
        {"max_search_results": 0},
    ],
)
def test_bad_settings_are_refused_once_at_construction(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        FaceSettings(**bad)  # type: ignore[arg-type]


def test_a_deliberate_zero_is_not_replaced_by_a_default() -> None:
    assert FaceSettings(background_face_ratio=0.0, min_sharpness=0.0).background_face_ratio == 0.0


def test_concurrent_verifies_on_threads_give_the_same_distances_as_one_at_a_time(
    make_face: MakeFace, obama_template: bytes
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    photos = [photo(OBAMA_OTHER), photo(BIDEN), photo("Barack_Obama__obama1.jpg"), photo(OBAMA_OTHER)]
    # A store of its own (no lockout interplay), and scores on so there are distances to compare.
    fv = make_face(expose_scores=True)
    alone = [fv.verify("obama", obama_template, p).distance for p in photos]
    assert None not in alone
    with ThreadPoolExecutor(max_workers=2) as pool:
        together = list(pool.map(lambda p: fv.verify("obama", obama_template, p).distance, photos))
    assert together == alone
