"""The accuracy figures `verifykit bench face` prints: FAR, FRR and ROC-AUC as defined."""

from __future__ import annotations

import numpy as np
import pytest

from verifykit.bench._face import _distances, _rates, _roc_auc

SAME = np.array([True, True, True, False, False, False])


def test_far_counts_impostors_at_or_under_the_threshold_and_frr_genuine_pairs_over_it() -> None:
    distances = np.array([0.3, 0.6, 0.7, 0.5, 0.9, 1.0])
    far, frr = _rates(distances, SAME, 0.6)
    assert far == pytest.approx(1 / 3)
    assert frr == pytest.approx(1 / 3)


def test_roc_auc_is_one_when_every_genuine_pair_is_closer_than_every_impostor() -> None:
    assert _roc_auc(np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), SAME) == 1.0


def test_roc_auc_counts_ties_as_half_and_inversions_as_misses() -> None:
    assert _roc_auc(np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]), SAME) == 0.5
    assert _roc_auc(np.array([0.9, 0.2, 0.3, 0.4, 0.5, 0.6]), SAME) == pytest.approx(6 / 9)


def test_a_pair_with_an_unusable_photo_never_matches() -> None:
    encodings = {"a": np.zeros(128), "b": np.zeros(128), "c": None}
    distances, same = _distances(encodings, [("a", "b", True), ("a", "c", True)])
    assert distances[0] == 0.0 and distances[1] == np.inf
    assert _rates(distances, same, 0.6) == (0.0, 0.5)
