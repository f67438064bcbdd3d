"""Refusing weak Ed25519 public keys: non-canonical encodings and points of small order.

Ed25519 verification checks ``[S]B == R + [k]A``. When the public key ``A`` has an order that
divides 8 (the identity, or one of the other seven torsion points), a signer-free "signature"
works: with ``A`` the identity, ``R`` the identity and ``S = 0`` both sides are the identity for
*every* message, and OpenSSL (through ``cryptography``) accepts it. Whoever registered such a key
as an officer's would let anyone forge that officer's vouchers, so no such key is ever admitted.

This is a small, slow, pure-Python implementation of the curve arithmetic, used only to *classify*
a public key, never to sign or verify. It decodes the point exactly as RFC 8032 section 5.1.3
does and multiplies it by the cofactor 8: a key is small-order exactly when the result is the
identity. We compute rather than compare against the well-known list of small-order encodings
(libsodium's ``has_small_order``) so that the rule is the definition itself and not a table that
must be copied byte for byte and kept complete; the decoding also refuses 32 bytes that are no
point at all. The tests hold it against that list. Checking a key costs tens of microseconds.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["KeyWeakness", "public_key_weakness"]

_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_IDENTITY = (0, 1)


class KeyWeakness(StrEnum):
    """Why 32 bytes are not an acceptable Ed25519 public key."""

    #: Not 32 bytes.
    LENGTH = "length"
    #: ``y >= p``, or the sign bit set for a point whose ``x`` is 0: one of two encodings of a point.
    NON_CANONICAL = "non_canonical"
    #: No point on the curve has this ``y``.
    NOT_A_POINT = "not_a_point"
    #: The point's order divides 8: signatures under this key can be forged without its private key.
    SMALL_ORDER = "small_order"


def _decode(raw: bytes) -> tuple[int, int] | KeyWeakness:
    """The point ``(x, y)`` encoded by ``raw`` (RFC 8032, 5.1.3), or why it is not one."""
    n = int.from_bytes(raw, "little")
    sign, y = n >> 255, n & ((1 << 255) - 1)
    if y >= _P:
        return KeyWeakness.NON_CANONICAL
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    if (v * x * x - u) % _P != 0:
        x = x * _SQRT_M1 % _P
        if (v * x * x - u) % _P != 0:
            return KeyWeakness.NOT_A_POINT
    if x == 0 and sign:
        return KeyWeakness.NON_CANONICAL
    if x & 1 != sign:
        x = _P - x
    return x, y


def _double(point: tuple[int, int]) -> tuple[int, int]:
    # The unified twisted Edwards addition law (a = -1) is complete on this curve: no special cases.
    x, y = point
    t = _D * x * x * y * y % _P
    return (2 * x * y * pow(1 + t, -1, _P) % _P, (y * y + x * x) * pow(1 - t, -1, _P) % _P)


def public_key_weakness(raw: bytes) -> KeyWeakness | None:
    """Why ``raw`` is not an acceptable Ed25519 public key, or None when it is one."""
    if len(raw) != 32:
        return KeyWeakness.LENGTH
    point = _decode(raw)
    if isinstance(point, KeyWeakness):
        return point
    for _ in range(3):
        point = _double(point)
    return KeyWeakness.SMALL_ORDER if point == _IDENTITY else None
