"""TOTP and recovery-code checks end to end on a memory store: stored secret or set, code,
client and time all from the fuzzer."""

from __future__ import annotations

from verifykit import Keyring, Verdict
from verifykit.fallbacks import RecoveryCodes, TOTPVerifier
from verifykit.store import MemoryStore
from verifykit.testing import FakeClock

from ._support import Input, typed

MAX_LEN = 4096
_SUBJECT = "fuzz-subject"
_KEYRING = Keyring.generate()
_STORE = MemoryStore(clock=FakeClock())
_TOTP = TOTPVerifier(store=_STORE, keyring=_KEYRING, audit=None)
_RECOVERY = RecoveryCodes(store=_STORE, keyring=_KEYRING, audit=None)
_ENROLLED = _TOTP.enroll(_SUBJECT, "fuzz@example.com").stored
_CODES = _RECOVERY.generate(_SUBJECT)


def TestOneInput(data: bytes) -> None:
    given = Input(data)
    choice = given.byte()  # bit 0: TOTP or recovery; 1: own subject; 2: a client; 3: own stored value
    subject = given.text(300) if choice & 2 else _SUBJECT
    client = given.text(300) if choice & 4 else None
    verdict: Verdict | None
    if choice & 1 == 0:
        at = given.number()
        code = given.text(80)
        stored = given.rest() if choice & 8 else _ENROLLED
        verdict = typed(lambda: _TOTP.verify(subject, stored, code, client=client, at=at))
    else:
        code = given.text(80)
        stored_set = given.text() if choice & 8 else _CODES.stored
        verdict = typed(lambda: _RECOVERY.redeem(subject, stored_set, code, client=client))
    assert verdict is None or isinstance(verdict, Verdict)
