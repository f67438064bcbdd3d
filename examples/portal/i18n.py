"""Two small message catalogs (``messages/en.json``, ``messages/id.json``) and the words for every
refusal. Every string a person reads comes from a catalog; templates call ``t(key, **params)``."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from verifykit import Reason, Way

__all__ = [
    "LANGUAGES",
    "PASSKEY_REASONS",
    "catalog",
    "passkey_reason_key",
    "reason_key",
    "translate",
    "until_text",
    "way_key",
]

LANGUAGES: tuple[str, ...] = ("en", "id")
_HERE = Path(__file__).parent / "messages"


@cache
def catalog(lang: str) -> Mapping[str, str]:
    data: dict[str, str] = json.loads((_HERE / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def translate(lang: str, key: str, **params: object) -> str:
    """The message ``key`` in ``lang`` with ``params`` filled in; English, then the key, when missing."""
    text = catalog(lang).get(key) or catalog("en").get(key) or key
    return text.format(**params) if params else text


def until_text(retry_after: float | None, now: float | None = None) -> str:
    """When a lock ends, as a clock time (UTC) a person can act on."""
    moment = (time.time() if now is None else now) + (retry_after or 0.0)
    return time.strftime("%H:%M:%S UTC", time.gmtime(moment))


# Reasons with words of their own; any other refusal reads "reason.denied".
_REASONS = frozenset(
    {
        Reason.WRONG_CODE,
        Reason.EXPIRED,
        Reason.ATTEMPTS_EXHAUSTED,
        Reason.RATE_LIMITED,
        Reason.LOCKED_OUT,
        Reason.HARD_LOCKED,
        Reason.REPLAYED,
        Reason.CANCELED,
        Reason.NOT_FOUND,
        Reason.NOT_ENROLLED,
        Reason.DELIVERY_FAILED,
        Reason.BELOW_LEVEL,
        Reason.WRONG_PASSWORD,
        Reason.TOO_SHORT,
        Reason.TOO_LONG,
        Reason.BREACHED,
        Reason.REPETITIVE,
        Reason.SEQUENTIAL,
        Reason.CONTEXT,
        Reason.NO_FACE,
        Reason.MULTIPLE_FACES,
        Reason.LOW_QUALITY,
        Reason.FACE_TOO_SMALL,
        Reason.BLURRY,
        Reason.TOO_DARK,
        Reason.TOO_BRIGHT,
        Reason.MISMATCH,
        Reason.MALFORMED,
        Reason.BAD_SIGNATURE,
        Reason.UNKNOWN_OFFICER,
        Reason.REVOKED_OFFICER,
        Reason.WRONG_SUBJECT,
        Reason.TTL_TOO_LONG,
        Reason.NOT_YET_VALID,
    }
)


# A passkey's refusals in words of their own: the general ones speak of codes and vouchers.
PASSKEY_REASONS = frozenset(
    {
        Reason.WRONG_ORIGIN,
        Reason.WRONG_RP_ID,
        Reason.USER_NOT_VERIFIED,
        Reason.CLONED_AUTHENTICATOR,
        Reason.UNKNOWN_CREDENTIAL,
        Reason.BAD_SIGNATURE,
        Reason.MALFORMED,
        Reason.REPLAYED,
        Reason.EXPIRED,
        Reason.NOT_FOUND,
    }
)


def reason_key(reason: Reason | str) -> str:
    """The catalog key for a refusal's words."""
    return f"reason.{reason}" if reason in _REASONS else "reason.denied"


def passkey_reason_key(reason: Reason | str) -> str:
    """The catalog key for a passkey refusal's words (locks and limits read as for any way in)."""
    return f"passkey.reason.{reason}" if reason in PASSKEY_REASONS else reason_key(reason)


def way_key(way: Way) -> str:
    return f"way.{way.value}"
