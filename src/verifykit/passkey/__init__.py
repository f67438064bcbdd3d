"""Passkeys (WebAuthn): a way in that resists phishing, registered and checked without a browser
in the loop of this library, and without a user database.

:class:`PasskeyVerifier` runs both ceremonies against the shared challenge store;
:func:`assurance` says what one stored passkey is worth under NIST SP 800-63B-4 (AAL2, or AAL3
for a device-bound key whose attestation the operator trusts). The asyncio flavour, with the same
names, arguments and results, is :class:`AsyncPasskeyVerifier` (also ``verifykit.aio``).

The WebAuthn formats are read with Yubico's python-fido2 (see ``_flows`` for why it, and not
py_webauthn). Needs the ``passkey`` extra (``pip install 'verifykit[passkey]'``); without it, importing this
package works and creating a verifier raises :class:`~verifykit.ConfigurationError`.
"""

from ._aio import PasskeyVerifier as AsyncPasskeyVerifier
from ._credential import MAX_CREDENTIALS, MAX_STORED_LENGTH, PasskeyCredential, assurance, open_credential
from ._flows import PasskeyEnrollment, PasskeyOptions
from ._response import MAX_RESPONSE_LENGTH
from ._settings import COSE_ALGORITHMS, PasskeySettings
from ._verifiers import PasskeyVerifier

__all__ = [
    "COSE_ALGORITHMS",
    "MAX_CREDENTIALS",
    "MAX_RESPONSE_LENGTH",
    "MAX_STORED_LENGTH",
    "AsyncPasskeyVerifier",
    "PasskeyCredential",
    "PasskeyEnrollment",
    "PasskeyOptions",
    "PasskeySettings",
    "PasskeyVerifier",
    "assurance",
    "open_credential",
]
