"""Email addresses: validation, the mailbox name limits are keyed on, and masking."""

from __future__ import annotations

from verifykit.delivery._address import canonical_mailbox, is_unsafe_char, mask_email, normalize_email

from ._support import Input, typed

MAX_LEN = 2048


def TestOneInput(data: bytes) -> None:
    address = Input(data).text(400)
    masked = mask_email(address)  # safe on any input, never raises
    assert not any(is_unsafe_char(ch) for ch in masked)
    normal = typed(lambda: normalize_email(address))
    if normal is not None:
        assert normalize_email(normal) == normal  # idempotent
    canonical = typed(lambda: canonical_mailbox(address))
    if canonical is not None:
        assert normal is not None
        assert canonical_mailbox(canonical) == canonical  # a valid address that names itself
