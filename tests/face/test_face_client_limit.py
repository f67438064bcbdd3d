"""A client's limit on face verifies is charged before any image work, so racing calls from one
address never get more photos decoded and encoded than the limit allows, on every backend and in
each flavour."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from face_photos import photo

from flavours import Flavour
from verifykit import Reason, WindowPolicy
from verifykit.face import FaceVerifier, _work

BIDEN = "Joe_Biden__biden.jpg"


def _count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Wrap the face work's decoder so each photo it opens is counted (the real work still runs)."""
    calls: list[int] = []
    real: Callable[..., Any] = _work.decode

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_work, "decode", counted)
    return calls


def test_fifty_racing_verifies_from_one_client_do_image_work_at_most_its_limit(
    make_face: Callable[..., FaceVerifier],
    flavour: Flavour,
    store_url: str,
    obama_template: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Threads, so the decoder counted is the one this process runs.
    fv = make_face(store=flavour.store(store_url), client_limit=WindowPolicy(3, 600), workers="thread")
    decoded = _count_decodes(monkeypatch)
    selfie = photo(BIDEN)
    start = threading.Barrier(50)
    reasons: list[Reason] = []
    lock = threading.Lock()

    def verify() -> None:
        start.wait()
        verdict = fv.verify("obama", obama_template, selfie, client="198.51.100.4")
        with lock:
            reasons.append(verdict.reason)

    threads = [threading.Thread(target=verify) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(decoded) <= 3
    assert reasons.count(Reason.MISMATCH) == len(decoded)
    assert reasons.count(Reason.RATE_LIMITED) == 50 - len(decoded)
