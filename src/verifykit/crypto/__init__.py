"""Keys and sealing: HMAC digests for codes, AES-256-GCM for templates and secrets."""

from ._keyring import Keyring

__all__ = ["Keyring"]
