"""verifykit for asyncio: the same verifiers, with the same names, arguments and results, as
coroutines; and the async stores and mailers they run on.

Each verifier here runs the very flows its sync twin runs (see :mod:`verifykit._flow`), so the two
flavours share every rule. Heavy work (argon2, face encodings) and sync mailers run off the event loop.

>>> store = open_store("redis://localhost:6379/0")          # doctest: +SKIP
>>> otp = EmailOTP(store=store, keyring=keyring, mailer=AsyncSMTPMailer("smtp.example.com"))  # doctest: +SKIP
>>> challenge = await otp.start("user-1", "ana@example.com")  # doctest: +SKIP
"""

from ..delivery._aio import AsyncFallbackMailer, AsyncMailer, AsyncSMTPMailer
from ..face._aio import FaceIndex, FaceVerifier
from ..fallbacks._aio import RecoveryCodes, TOTPVerifier
from ..ladder._ladder import AsyncLadder as Ladder
from ..otp._aio import EmailOTP
from ..password._aio import PasswordVerifier
from ..vouchers._aio import Vouchers
from ._store import AsyncChallengeStore, AsyncMemoryStore, AsyncRedisClusterStore, AsyncRedisStore, open_store

__all__ = [
    "AsyncChallengeStore",
    "AsyncFallbackMailer",
    "AsyncMailer",
    "AsyncMemoryStore",
    "AsyncRedisClusterStore",
    "AsyncRedisStore",
    "AsyncSMTPMailer",
    "EmailOTP",
    "FaceIndex",
    "FaceVerifier",
    "Ladder",
    "PasswordVerifier",
    "RecoveryCodes",
    "TOTPVerifier",
    "Vouchers",
    "open_store",
]
