"""``verifykit face compare A B [--json]``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from face_photos import DATA

from verifykit.cli import main


def test_compare_prints_distance_and_decision_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        ["face", "compare", str(DATA / "JK_Rowling__0001.jpg"), str(DATA / "JK_Rowling__0003.jpg"), "--json"]
    )
    result = json.loads(capsys.readouterr().out)
    assert status == 0
    assert result["match"] is True and result["reason"] == "approved"
    assert 0 <= result["distance"] <= result["threshold"] == 0.6


def test_compare_of_two_people_exits_one(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        ["face", "compare", str(DATA / "Joe_Biden__biden.jpg"), str(DATA / "Barack_Obama__obama.jpg")]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "different people" in out and "distance" in out


def test_compare_names_the_photo_without_a_face(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        ["face", "compare", str(DATA / "Joe_Biden__biden.jpg"), str(DATA / "noface__coffee.png"), "--json"]
    )
    result = json.loads(capsys.readouterr().out)
    assert status == 1
    assert result["reason"] == "no_face" and result["details"]["image"] == "b"


def test_an_unreadable_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["face", "compare", "/nonexistent/a.jpg", str(DATA / "noface__coffee.png")])
    assert status == 2
    assert "invalid_input" in capsys.readouterr().err


def test_a_file_that_is_not_an_image_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    status = main(["face", "compare", str(text), str(DATA / "noface__coffee.png")])
    assert status == 2
    assert "invalid_image" in capsys.readouterr().err
