"""The pipeline: the same encodings as face_recognition, the right reasons, rotation and size handled."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from face_photos import DATA, files_with, photo, reference, with_exif_orientation

from verifykit import Reason
from verifykit.face import FaceSettings, FaceVerifier, MultiFace
from verifykit.face._pipeline import decode, detect, encode_face, find


@pytest.mark.parametrize(
    "name",
    ["Barack_Obama__obama.jpg", "Kit_Harington__john1.jpg", "Diana_Krall__0004.jpg", "multi__two_people.jpg"],
)
def test_encodings_equal_face_recognition_for_the_same_image_and_box(name: str) -> None:
    face_recognition = reference()

    image = face_recognition.load_image_file(str(DATA / name))
    boxes = face_recognition.face_locations(image)
    assert boxes
    expected = face_recognition.face_encodings(image, boxes)
    for (top, right, bottom, left), theirs in zip(boxes, expected, strict=True):
        ours = encode_face(image, (left, top, right, bottom))
        assert ours.shape == (128,)
        assert np.max(np.abs(ours - theirs)) <= 1e-4


@pytest.mark.parametrize("name", files_with("__noface__"))
def test_a_photo_without_a_person_has_no_face(name: str) -> None:
    settings = FaceSettings()
    found = find(decode(photo(name), settings), settings, MultiFace.REJECT)
    assert found.reason is Reason.NO_FACE
    assert found.faces == ()


@pytest.mark.parametrize("name", files_with("__multi__"))
def test_a_photo_of_several_people_is_refused_by_default(name: str) -> None:
    settings = FaceSettings()
    found = find(decode(photo(name), settings), settings, settings.multiple_faces)
    assert found.reason is Reason.MULTIPLE_FACES
    assert len(found.faces) >= 2


def test_the_largest_policy_takes_the_biggest_face() -> None:
    settings = FaceSettings()
    found = find(decode(photo("multi__two_people.jpg"), settings), settings, MultiFace.LARGEST)
    assert found.usable
    assert found.face == found.faces[0]
    assert all(found.face.width >= other.width for other in found.faces)


def test_between_faces_of_nearly_equal_size_the_largest_policy_takes_the_central_one() -> None:
    # Antonio_Banderas__0005: the subject (centre) and someone at the top right, HOG boxes 90 and 91.
    settings = FaceSettings()
    found = find(decode(photo("Antonio_Banderas__0005.jpg"), settings), settings, MultiFace.LARGEST)
    assert found.face is not None and len(found.faces) == 2
    centre_x = (found.face.left + found.face.right) / 2
    assert abs(centre_x - 125) < abs((found.faces[1].left + found.faces[1].right) / 2 - 125)


def test_a_small_face_in_the_background_does_not_count_as_a_second_person() -> None:
    # Gonzalo_Sanchez_de_Lozada__0007 shows a bystander whose face is ~0.6 of the subject's width.
    settings = FaceSettings(background_face_ratio=0.7)
    found = find(decode(photo("Gonzalo_Sanchez_de_Lozada__0007.jpg"), settings), settings, MultiFace.REJECT)
    assert found.usable
    assert len(found.faces) == 1
    strict = FaceSettings(background_face_ratio=0.0)
    counted = find(decode(photo("Gonzalo_Sanchez_de_Lozada__0007.jpg"), strict), strict, MultiFace.REJECT)
    assert counted.reason is Reason.MULTIPLE_FACES


def test_boxes_are_reported_in_the_original_photos_pixels() -> None:
    face_recognition = reference()

    settings = FaceSettings()
    found = find(decode(photo("Barack_Obama__obama.jpg"), settings), settings, MultiFace.REJECT)
    image = face_recognition.load_image_file(str(DATA / "Barack_Obama__obama.jpg"))
    ((top, right, bottom, left),) = face_recognition.face_locations(image)
    assert found.face is not None
    # Detected on a 480-pixel copy: HOG's box sizes come in steps, so compare by overlap.
    box = found.face
    inter = max(0, min(box.right, right) - max(box.left, left)) * max(
        0, min(box.bottom, bottom) - max(box.top, top)
    )
    union = box.width * box.height + (right - left) * (bottom - top) - inter
    assert inter / union > 0.7


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_rotated_phone_photo_with_an_exif_orientation_still_matches(
    verifier: FaceVerifier, obama_template: bytes, orientation: int
) -> None:
    turn = {3: cv2.ROTATE_180, 6: cv2.ROTATE_90_COUNTERCLOCKWISE, 8: cv2.ROTATE_90_CLOCKWISE}[orientation]
    upright = cv2.imread(str(DATA / "Barack_Obama__obama2.jpg"))
    ok, buf = cv2.imencode(".jpg", cv2.rotate(upright, turn), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    rotated = with_exif_orientation(buf.tobytes(), orientation)
    verdict = verifier.verify("obama", obama_template, rotated)
    assert verdict.reason is Reason.APPROVED


def test_the_same_rotated_pixels_without_the_tag_find_no_face(verifier: FaceVerifier) -> None:
    # The control for the test above: the tag is what makes the difference.
    upright = cv2.imread(str(DATA / "Barack_Obama__obama2.jpg"))
    ok, buf = cv2.imencode(".jpg", cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE))
    assert ok
    found, _ = verifier.encode(buf.tobytes())
    assert found.reason is Reason.NO_FACE


@pytest.mark.slow
def test_a_twelve_megapixel_photo_is_decoded_reduced_and_encodes_like_the_original(
    verifier: FaceVerifier,
) -> None:
    original = cv2.imread(str(DATA / "Barack_Obama__obama2.jpg"))
    factor = (12e6 / (original.shape[0] * original.shape[1])) ** 0.5
    big = cv2.resize(original, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    reading, encoding = verifier.encode(buf.tobytes())
    assert reading.scale < 1
    _, reference = verifier.encode(photo("Barack_Obama__obama2.jpg"))
    assert encoding is not None and reference is not None
    assert float(np.linalg.norm(encoding - reference)) < 0.1


def test_a_face_too_small_in_a_reduced_decode_is_encoded_from_the_full_photo() -> None:
    # A ~260-pixel face on a 2000-pixel canvas: a JPEG decoded at half size leaves it ~130 pixels,
    # under encode_min_face (150), so it is found on the reduced copy and encoded at full size.
    face = cv2.resize(
        cv2.imread(str(DATA / "Diana_Krall__0004.jpg")), (600, 600), interpolation=cv2.INTER_CUBIC
    )
    canvas = np.full((1500, 2000, 3), 127, np.uint8)
    canvas[400:1000, 700:1300] = face
    ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    settings = FaceSettings()
    image = decode(buf.tobytes(), settings)
    assert image.reduced
    found = find(image, settings, MultiFace.REJECT)
    assert found.usable
    assert not found.image.reduced


def biden_with_a_second_face(scale: float) -> bytes:
    """Joe_Biden__biden2 (face box ~300 px of 800) with a second person's face pasted bottom left."""
    main = cv2.imread(str(DATA / "Joe_Biden__biden2.jpg"))
    lfw = cv2.imread(str(DATA / "Diana_Krall__0004.jpg"))
    patch = cv2.resize(lfw[45:215, 45:205], None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    height, width = patch.shape[:2]
    main[main.shape[0] - height :, :width] = patch
    ok, buf = cv2.imencode(".jpg", main, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buf.tobytes()


def test_a_second_face_over_half_as_wide_as_a_large_main_face_counts() -> None:
    settings = FaceSettings()
    found = find(decode(biden_with_a_second_face(1.75), settings), settings, MultiFace.REJECT)
    assert found.reason is Reason.MULTIPLE_FACES
    assert found.faces[1].width > 0.5 * found.faces[0].width


def test_a_second_face_under_half_as_wide_as_a_large_main_face_is_background() -> None:
    settings = FaceSettings()
    image = biden_with_a_second_face(1.3)
    assert find(decode(image, settings), settings, MultiFace.REJECT).usable
    every_face = FaceSettings(background_face_ratio=0.0)
    assert find(decode(image, every_face), every_face, MultiFace.REJECT).reason is Reason.MULTIPLE_FACES


def test_a_face_too_small_for_the_first_look_is_found_by_the_second() -> None:
    # A 250-pixel LFW photo (face box ~110 px) on a 2400-pixel canvas: ~22 px on the 480-pixel
    # copy, below what HOG finds there; the second look at 960 pixels finds it.
    canvas = np.full((1800, 2400, 3), 127, np.uint8)
    canvas[900:1150, 1100:1350] = cv2.imread(str(DATA / "Diana_Krall__0004.jpg"))
    ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    settings = FaceSettings()
    image = decode(buf.tobytes(), settings)
    assert detect(image.rgb, settings) == []
    found = find(image, settings, MultiFace.REJECT)
    assert found.usable and found.face is not None
    assert 1100 <= found.face.left < found.face.right <= 1350
