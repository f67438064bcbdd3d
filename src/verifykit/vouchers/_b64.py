"""Unpadded base64url, the text form of vouchers and of officers' keys in the registry."""

from __future__ import annotations

import base64

__all__ = ["b64url_decode", "b64url_encode"]


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    """``text`` decoded with its padding restored; raises ``binascii.Error`` if not base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
