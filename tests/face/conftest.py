"""Shared fixtures for the face tests: the real photos, and encodings cached for the session.

dlib needs about a quarter of a second per photo on a small machine, so each photo is encoded
once per test session, by verifykit and by plain face_recognition (the reference).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from face_photos import DATA, Encodings, photo, reference, single_person_files

from flavours import Flavour
from verifykit import Keyring, aio
from verifykit.face import FaceSettings, FaceVerifier, MultiFace
from verifykit.store import MemoryStore

__all__ = ["make_face", "verifier"]

MakeFace = Callable[..., FaceVerifier]


@pytest.fixture(scope="session", autouse=True)
def _photos_present() -> None:
    if not (DATA / "pairs.csv").exists():
        pytest.fail(f"the face photos are missing: expected them in {DATA.resolve()}", pytrace=False)


@pytest.fixture(scope="session")
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def make_face(flavour: Flavour, keyring: Keyring) -> MakeFace:
    """``make_face(store=None, **settings)``: a FaceVerifier of each flavour (sync, asyncio) with
    the session's keyring, no audit, on ``store`` (a store of the flavour; default a memory store
    of its own); keywords are FaceSettings fields, and ``audit``."""

    def make(*, store: Any = None, audit: Any = None, **settings: Any) -> FaceVerifier:
        return flavour.build(
            FaceVerifier,
            aio.FaceVerifier,
            store=store if store is not None else flavour.store("memory://"),
            keyring=keyring,
            settings=FaceSettings(**settings),
            audit=audit,
        )

    return make


@pytest.fixture
def verifier(make_face: MakeFace) -> FaceVerifier:
    """A verifier of each flavour with default settings on its own memory store (no audit output)."""
    return make_face()


@pytest.fixture(scope="session")
def obama_template(keyring: Keyring) -> bytes:
    enroller = FaceVerifier(store=MemoryStore(), keyring=keyring, audit=None)
    enrollment = enroller.enroll("obama", photo("Barack_Obama__obama.jpg"))
    assert enrollment.approved and enrollment.stored is not None
    return enrollment.stored


@pytest.fixture(scope="session")
def our_encodings(keyring: Keyring) -> Encodings:
    """verifykit's encoding of every photo in pairs.csv (largest face; None when unusable)."""
    fv = FaceVerifier(store=MemoryStore(), keyring=keyring, audit=None)
    return {name: fv.encode(photo(name), policy=MultiFace.LARGEST)[1] for name in single_person_files()}


@pytest.fixture(scope="session")
def reference_encodings() -> Encodings:
    """Plain face_recognition 1.3: load_image_file, HOG at full size, the largest face's encoding."""
    face_recognition = reference()

    out: Encodings = {}
    for name in single_person_files():
        image = face_recognition.load_image_file(str(DATA / name))
        boxes = face_recognition.face_locations(image)
        if not boxes:
            out[name] = None
            continue
        largest = max(boxes, key=lambda b: (b[1] - b[3]) * (b[2] - b[0]))
        out[name] = face_recognition.face_encodings(image, [largest])[0]
    return out
