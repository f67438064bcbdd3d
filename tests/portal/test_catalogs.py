"""The two message catalogs say the same things: the same keys, the same placeholders, and every
key the templates and the app ask for, in both languages; every refusal has words of its own."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

from portal_http import portal_module

from verifykit import Reason, Way

PORTAL = Path(__file__).resolve().parents[2] / "examples" / "portal"


def _catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((PORTAL / "messages" / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    en, id_ = _catalog("en"), _catalog("id")
    assert set(en) == set(id_)
    for key in en:
        assert _fields(en[key]) == _fields(id_[key]), key
        assert id_[key].strip(), key


def test_every_key_used_exists() -> None:
    en = _catalog("en")
    sources = [p.read_text(encoding="utf-8") for p in (PORTAL / "templates").glob("*.html")]
    sources.append((PORTAL / "app.py").read_text(encoding="utf-8"))
    used = set()
    for text in sources:
        used |= set(re.findall(r"""\bt\((?:request, )?["']([\w.]+)["']""", text))
    assert used, "the pattern finds the keys"
    # Keys built at run time: "lang." ~ code, "level." ~ level_of(...).
    dynamic = {k for k in used if k.endswith(".")}
    assert dynamic == {"lang.", "level."}
    used = (used - dynamic) | {
        "lang.en",
        "lang.id",
        "level.AAL2",
        "level.AAL1",
        "level.counter",
        "level.none",
    }
    assert used - set(en) == set()


def test_every_way_and_the_refusals_a_person_meets_have_words() -> None:
    en = _catalog("en")
    for way in Way:
        assert f"way.{way.value}" in en
    for reason in (
        Reason.WRONG_CODE,
        Reason.EXPIRED,
        Reason.LOCKED_OUT,
        Reason.HARD_LOCKED,
        Reason.NO_FACE,
        Reason.MULTIPLE_FACES,
        Reason.MISMATCH,
        Reason.WRONG_PASSWORD,
        Reason.BREACHED,
    ):
        assert f"reason.{reason.value}" in en
    for key in ("error.photo_too_large", "error.photo_too_costly", "refusal.until"):
        assert key in en


def test_every_passkey_refusal_has_words_of_its_own() -> None:
    """A passkey refusal reads its own words (the general ones speak of codes and vouchers), and
    the keys the passkey routes answer with exist; the same in both languages (checked above)."""
    i18n = portal_module("i18n")
    en = _catalog("en")
    for reason in i18n.PASSKEY_REASONS:
        assert i18n.passkey_reason_key(reason) in en, reason
    assert i18n.passkey_reason_key(Reason.LOCKED_OUT) == "reason.locked_out"
    answered = re.findall(r"""passkey_answer\(request, ["']([\w.]+)["']""", (PORTAL / "app.py").read_text())
    assert answered and set(answered) <= set(en)
    assert {"passkey.added", "level.AAL3"} <= set(en)
