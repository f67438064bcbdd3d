"""What the portal keeps of an ID photo: a sealed face template, never the photo, and nothing at all
when the photo is refused. Each portal here runs in this process on a SQLite file of its own, so a
test can open the file and look at every table and column, and see what verifykit returned.
"""

from __future__ import annotations

import base64
import html
import re
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from portal_browser import LANGS, Applicant, face_photo, t
from portal_http import Reply, portal_module, served, sign_up_to_photo

from verifykit import aio
from verifykit.face import Enrollment, FaceSettings

ID_PHOTO = "Barack_Obama__obama.jpg"  # of the shared face set (the test is skipped without it)
PASSWORD = "amber kettle seven foxes"
# How a photo begins, as bytes and as base64 text: JPEG (any marker after the start of image),
# PNG and WebP.
PHOTO_STARTS = re.compile(rb"\xff\xd8\xff[\xc0-\xfe]|\x89PNG\r\n\x1a\n|RIFF.{4}WEBP", re.DOTALL)
PHOTO_STARTS_B64 = ("/9j/", "iVBORw0KGgo", "UklGR", "data:image")


@dataclass
class Portal:
    url: str
    database: Path
    #: What verifykit's face verifier returned for each enrolment, in order.
    enrolments: list[Enrollment] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[str, str, object]]:
        """Every value of every column of every table: (table, column, value)."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            assert "accounts" in tables
            for table in tables:
                cursor = db.execute(f'SELECT * FROM "{table}"')  # names read from the schema
                columns = [d[0] for d in cursor.description]
                for row in cursor:
                    yield from ((table, column, value) for column, value in zip(columns, row, strict=True))

    def face_of(self, email: str) -> object:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            row = db.execute("SELECT face FROM accounts WHERE email = ?", (email,)).fetchone()
        assert row is not None, email
        return row[0]


def _portal(tmp_path: Path, prepare: Any = None) -> Iterator[Portal]:
    database = tmp_path / "accounts.db"
    config = portal_module("config").Config(
        development=True, database=str(database), mailbox=tmp_path / "mail", face_workers="process"
    )
    portal = Portal("", database)

    def watched(services: Any) -> None:
        if prepare is not None:
            prepare(services)
        enroll = services.faces.enroll

        async def kept(*args: Any, **kwargs: Any) -> Enrollment:
            enrolment: Enrollment = await enroll(*args, **kwargs)
            portal.enrolments.append(enrolment)
            return enrolment

        services.faces.enroll = kept

    with served(config, watched) as url:
        portal.url = url
        yield portal


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """A portal in development mode on a SQLite file, with the library's face settings."""
    yield from _portal(tmp_path_factory.mktemp("storage"))


@pytest.fixture(scope="module")
def frugal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """A portal whose face workers may hold 64 MiB above their models (an operator's tighter
    bound than the library's default): a photo needing more is refused as too costly."""

    def tighter(services: Any) -> None:
        settings = FaceSettings(worker_memory=64 << 20, processes=1)
        services.faces = aio.FaceVerifier(store=services.store, keyring=services.keyring, settings=settings)

    yield from _portal(tmp_path_factory.mktemp("frugal"), tighter)


def _costly_png() -> bytes:
    """A 6000 x 6000 grey PNG of 44 KB: under the upload's 8 MiB and the library's header limits
    (36 MP of 40, 108 MB decoded of 192 MiB), more than the frugal portal's workers may decode."""
    import cv2
    import numpy as np

    ok, encoded = cv2.imencode(".png", np.zeros((6000, 6000), np.uint8))
    assert ok
    return bytes(encoded.tobytes())


def _error(reply: Reply) -> str:
    found = re.search(r'<p class="error" id="error">(.*?)</p>', reply.body, re.DOTALL)
    assert found, reply.body[:2000]
    return html.unescape(found.group(1))


def _applicant(name: str) -> Applicant:
    return Applicant(f"{name}-{secrets.token_hex(4)}@example.com", PASSWORD)


def _windows(photo: bytes) -> list[bytes]:
    """Runs of the photo's bytes that no stored value may hold: its start, middle and end, as
    bytes, base64 and hex."""
    middle = len(photo) // 2
    runs = [photo[:48], photo[middle : middle + 48], photo[-48:]]
    return [*runs, *(base64.b64encode(r) for r in runs[:1]), *(r.hex().encode() for r in runs)]


@pytest.mark.parametrize("lang", LANGS)
def test_a_photo_too_costly_to_decode_is_refused_in_words_offering_the_next_way_and_keeps_nothing(
    frugal: Portal, lang: str
) -> None:
    applicant = _applicant(f"costly-{lang}")
    client = sign_up_to_photo(frugal.url, applicant, lang=lang)
    photo = _costly_png()
    assert len(photo) < 8 * 1024 * 1024
    reply = client.post_file("/signup/face", "photo", "id.png", photo, "image/png")
    assert reply.status == 400
    assert _error(reply) == t(lang, "error.photo_too_costly")
    # The same page as for the other photo refusals: another photo, or go on without one.
    assert 'action="/signup/face"' in reply.body and 'id="upload-photo"' in reply.body
    assert 'id="skip-photo"' in reply.body
    assert frugal.face_of(applicant.email) is None
    assert client.post("/signup/face", {"action": "skip"}).location == "/account"
    assert frugal.face_of(applicant.email) is None


@pytest.fixture(scope="module")
def enrolled(portal: Portal) -> tuple[Applicant, bytes]:
    """An applicant who signed up with a real ID photo, and that photo's bytes."""
    path = face_photo(ID_PHOTO)
    applicant = _applicant("photo")
    photo = path.read_bytes()
    client = sign_up_to_photo(portal.url, applicant)
    reply = client.post_file("/signup/face", "photo", path.name, photo, "image/jpeg")
    assert reply.location == "/account", reply.body[:2000]
    return applicant, photo


def test_no_column_of_any_table_holds_the_photo_or_any_image(
    portal: Portal, enrolled: tuple[Applicant, bytes]
) -> None:
    _applicant, photo = enrolled
    windows = _windows(photo)
    seen = 0
    for table, column, value in portal.rows():
        if not isinstance(value, bytes | str):
            continue
        data = value.encode() if isinstance(value, str) else value
        seen += 1
        where = f"{table}.{column}"
        assert not any(w in data for w in windows), f"{where} holds the photo's bytes"
        assert PHOTO_STARTS.search(data) is None, f"{where} holds an image"
        if isinstance(value, str):
            assert not any(s in value for s in PHOTO_STARTS_B64), f"{where} holds an image as text"
    assert seen, "the account's row was read"
    for path in portal.database.parent.glob(portal.database.name + "*"):  # the file, any journal
        raw = path.read_bytes()
        assert not any(w in raw for w in windows), f"{path.name} holds the photo's bytes"


def test_the_face_column_holds_only_the_sealed_template_the_library_returned(
    portal: Portal, enrolled: tuple[Applicant, bytes]
) -> None:
    applicant, photo = enrolled
    returned = [e for e in portal.enrolments if e.approved]
    assert len(returned) == 1 and returned[0].stored is not None
    stored = portal.face_of(applicant.email)
    assert isinstance(stored, bytes)
    assert stored == returned[0].stored
    assert len(stored) < len(photo) // 10, "a template, not a picture"
