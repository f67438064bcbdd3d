"""The shipped blocklist: derived from the NCSC top-100k list, with its license next to it."""

from __future__ import annotations

import gzip
import unicodedata
from importlib import resources

from password_support import PASSWORD_DATA

from verifykit.password._blocklist import Blocklist, default_blocklist


def _source() -> list[str]:
    return (PASSWORD_DATA / "ncsc-top-100k.txt").read_text(encoding="utf-8").split("\n")


def test_the_shipped_file_is_exactly_the_documented_derivation_of_the_ncsc_list() -> None:
    entries = sorted({unicodedata.normalize("NFKC", line).casefold() for line in _source() if line})
    shipped = resources.files("verifykit.password").joinpath("ncsc-top-100k.txt.gz").read_bytes()
    assert gzip.decompress(shipped).decode("utf-8") == "\n".join(entries) + "\n"


def test_every_source_password_is_on_the_loaded_list() -> None:
    blocklist = default_blocklist()
    missing = [p for p in _source() if p and unicodedata.normalize("NFKC", p).casefold() not in blocklist]
    assert missing == []


def test_the_license_and_source_ship_beside_the_list() -> None:
    notice = resources.files("verifykit.password").joinpath("BLOCKLIST-NOTICE.txt").read_text("utf-8")
    assert "MIT" in notice and "Copyright (c) 2025 Daniel Miessler" in notice
    assert "danielmiessler/SecLists" in notice


def test_passwords_not_on_the_list_are_not_reported() -> None:
    blocklist = default_blocklist()
    assert "correct horse battery staple" not in blocklist
    assert "vq8#Lr2!mZ" not in blocklist


def test_the_loaded_list_is_compact() -> None:
    blocklist = default_blocklist()
    assert len(blocklist) == len({unicodedata.normalize("NFKC", p).casefold() for p in _source() if p})
    assert blocklist.nbytes == 8 * len(blocklist)


def test_a_custom_list_answers_membership() -> None:
    custom = Blocklist(["hunter2hunter2"])
    assert "hunter2hunter2" in custom
    assert "hunter3hunter3" not in custom
    assert 42 not in custom
