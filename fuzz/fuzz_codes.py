"""Codes as people type them: one-time codes, recovery codes, and a stored recovery-code set."""

from __future__ import annotations

from verifykit._codes import normalize_code
from verifykit.fallbacks._recovery import count_left
from verifykit.fallbacks._recovery_codes import normalize as normalize_recovery

from ._support import Input, typed

MAX_LEN = 4096


def TestOneInput(data: bytes) -> None:
    given = Input(data)
    digits = 4 + given.pick(7)
    code = given.text(80)
    otp = typed(lambda: normalize_code(code, digits))
    if otp is not None:
        assert len(otp) == digits and otp.isascii() and otp.isdigit()
        assert normalize_code(otp, digits) == otp
    recovery = typed(lambda: normalize_recovery(code))
    if recovery is not None:
        assert normalize_recovery(recovery) == recovery
    stored = given.text()
    left = typed(lambda: count_left(stored))
    assert left is None or left >= 0
