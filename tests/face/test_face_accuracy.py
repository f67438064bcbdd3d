"""Accuracy on the real labelled pairs, against plain face_recognition computed in the same session."""

from __future__ import annotations

import numpy as np
import pytest
from face_photos import Encodings, pairs

THRESHOLD = 0.6


def decisions(encodings: Encodings) -> list[tuple[bool, bool]]:
    """(matched, same person) per pair; a pair with an unusable photo does not match."""
    out = []
    for a, b, same in pairs():
        ea, eb = encodings[a], encodings[b]
        matched = ea is not None and eb is not None and float(np.linalg.norm(ea - eb)) <= THRESHOLD
        out.append((matched, same))
    return out


def accuracy(encodings: Encodings) -> float:
    got = decisions(encodings)
    return sum(matched == same for matched, same in got) / len(got)


def false_accepts(encodings: Encodings) -> int:
    return sum(matched and not same for matched, same in decisions(encodings))


@pytest.mark.slow
def test_accuracy_at_the_default_threshold_is_at_least_face_recognitions(
    our_encodings: Encodings, reference_encodings: Encodings
) -> None:
    assert accuracy(our_encodings) >= accuracy(reference_encodings)


@pytest.mark.slow
def test_no_more_impostors_are_accepted_than_face_recognition_accepts(
    our_encodings: Encodings, reference_encodings: Encodings
) -> None:
    assert false_accepts(our_encodings) <= false_accepts(reference_encodings)


@pytest.mark.slow
def test_every_photo_face_recognition_can_use_is_usable_here(
    our_encodings: Encodings, reference_encodings: Encodings
) -> None:
    lost = [
        name for name, enc in reference_encodings.items() if enc is not None and our_encodings[name] is None
    ]
    assert lost == []


@pytest.mark.slow
def test_most_genuine_pairs_match_and_most_impostors_do_not(our_encodings: Encodings) -> None:
    got = decisions(our_encodings)
    genuine = [matched for matched, same in got if same]
    impostor = [matched for matched, same in got if not same]
    assert sum(genuine) / len(genuine) >= 0.9
    assert sum(impostor) / len(impostor) <= 0.05
