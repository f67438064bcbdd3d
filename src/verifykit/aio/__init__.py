"""verifykit for asyncio: the same verifiers, with the same names, arguments and results, as
coroutines; and the async stores and mailers they run on.

Nothing is defined here: each name is its package's asyncio flavour, re-exported under the name of
its sync twin (``verifykit.aio.EmailOTP`` is :class:`verifykit.otp.AsyncEmailOTP`,
``verifykit.aio.open_store`` is :func:`verifykit.store.open_async_store`).

Each verifier here runs the very flows its sync twin runs (see :mod:`verifykit._flow`), so the two
flavours share every rule. Heavy work (argon2, face encodings) and sync mailers run off the event loop.

>>> store = open_store("redis://localhost:6379/0")          # doctest: +SKIP
>>> otp = EmailOTP(store=store, keyring=keyring, mailer=AsyncSMTPMailer("smtp.example.com"))  # doctest: +SKIP
>>> challenge = await otp.start("user-1", "ana@example.com")  # doctest: +SKIP
"""

from ..delivery import AsyncFallbackMailer, AsyncMailer, AsyncSMTPMailer
from ..face import AsyncFaceIndex as FaceIndex
from ..face import AsyncFaceVerifier as FaceVerifier
from ..fallbacks import AsyncRecoveryCodes as RecoveryCodes
from ..fallbacks import AsyncTOTPVerifier as TOTPVerifier
from ..ladder import AsyncLadder as Ladder
from ..otp import AsyncEmailOTP as EmailOTP
from ..passkey import AsyncPasskeyVerifier as PasskeyVerifier
from ..password import AsyncPasswordVerifier as PasswordVerifier
from ..store import AsyncChallengeStore, AsyncMemoryStore, AsyncRedisClusterStore, AsyncRedisStore
from ..store import open_async_store as open_store
from ..vouchers import AsyncVouchers as Vouchers

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
    "PasskeyVerifier",
    "PasswordVerifier",
    "RecoveryCodes",
    "TOTPVerifier",
    "Vouchers",
    "open_store",
]
