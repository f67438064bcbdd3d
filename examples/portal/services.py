"""The verifiers the portal runs on, built once at start-up from :class:`~config.Config`."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifykit import ConfigurationError, Keyring, aio
from verifykit.delivery import FileMailer
from verifykit.face import FaceSettings, Workers
from verifykit.fallbacks import TOTPSettings
from verifykit.otp import OTPSettings
from verifykit.passkey import PasskeySettings
from verifykit.password import PasswordSettings
from verifykit.vouchers import OfficerRegistry, OfficerSource, RegistryFile, generate_officer_key

from .config import Config
from .db import Accounts

__all__ = ["Decoys", "Services", "TestClock"]

log = logging.getLogger("portal")


class TestClock:
    """Development only, for tests: the wall clock plus an offset that ``/dev/clock`` moves, so
    that a code expires or a lock ends without waiting. The store reads every time from it."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


class _Discard:
    """The mailer of decoy challenges: it sends nothing (no account has that address)."""

    async def send(self, message: EmailMessage) -> None:
        return None


@dataclass
class Decoys:
    """What the portal needs to answer an address without an account as it answers one with: an
    email verifier that sends nothing, and makers of stand-in secrets (an app's, recovery codes)
    that nobody holds. Same store, keyring and settings as the real ones, so the codes, tries and
    locks count alike; they audit nothing of their own (the real verifiers check, and audit,
    under the stand-in subject)."""

    email: aio.EmailOTP
    totp: aio.TOTPVerifier
    recovery: aio.RecoveryCodes


@dataclass
class Services:
    config: Config
    keyring: Keyring = field(repr=False)
    accounts: Accounts
    email: aio.EmailOTP
    passwords: aio.PasswordVerifier
    totp: aio.TOTPVerifier
    recovery: aio.RecoveryCodes
    faces: aio.FaceVerifier
    vouchers: aio.Vouchers
    ladder: aio.Ladder
    store: aio.AsyncChallengeStore
    decoys: Decoys
    #: ``None`` when the passkey extra is not installed, or (in development) no origin is known.
    passkeys: aio.PasskeyVerifier | None = None
    #: Development only: the demo counter officer's key, made at start-up and never written down.
    officer: Ed25519PrivateKey | None = field(default=None, repr=False)
    #: Development only, for tests (``PORTAL_TEST_CLOCK=1``): the store's movable clock.
    clock: TestClock | None = None

    @classmethod
    def build(cls, config: Config) -> Services:
        keyring = Keyring.from_env("VERIFYKIT_KEYS") if not config.development else _dev_keyring()
        clock = TestClock() if config.development and config.test_clock else None
        store = aio.open_store(config.store_url, clock=clock) if clock else aio.open_store(config.store_url)
        mailer: aio.AsyncMailer | FileMailer
        if config.smtp_host:
            mailer = aio.AsyncSMTPMailer(config.smtp_host, config.smtp_port)
        elif config.development:
            mailer = FileMailer(config.mailbox)
        else:
            raise RuntimeError("outside development mode set PORTAL_SMTP_HOST: codes must reach people")
        officer: Ed25519PrivateKey | None = None
        registry: OfficerSource
        if config.officers is not None:
            registry = RegistryFile(config.officers)
        elif config.development:
            officer = generate_officer_key()
            registry = OfficerRegistry.empty().add(officer.public_key(), "Demo officer")
            log.warning("development mode: a demo counter officer signs vouchers at /dev/counter")
        else:
            raise RuntimeError("outside development mode set PORTAL_OFFICERS to an officer registry file")
        name = config.service_name
        otp_settings = OTPSettings(service_name=name, sender=f"{name} <no-reply@portal.invalid>")
        totp_settings = TOTPSettings(issuer=name)
        return cls(
            config=config,
            keyring=keyring,
            accounts=Accounts(config.database),
            email=aio.EmailOTP(store=store, keyring=keyring, mailer=mailer, settings=otp_settings),
            passwords=aio.PasswordVerifier(
                store=store, keyring=keyring, settings=PasswordSettings(service_name=name)
            ),
            totp=aio.TOTPVerifier(store=store, keyring=keyring, settings=totp_settings),
            recovery=aio.RecoveryCodes(store=store, keyring=keyring),
            faces=aio.FaceVerifier(
                store=store, keyring=keyring, settings=FaceSettings(workers=Workers(config.face_workers))
            ),
            vouchers=aio.Vouchers(store=store, keyring=keyring, registry=registry),
            ladder=aio.Ladder(store=store, keyring=keyring),
            store=store,
            decoys=Decoys(
                email=aio.EmailOTP(
                    store=store, keyring=keyring, mailer=_Discard(), settings=otp_settings, audit=None
                ),
                totp=aio.TOTPVerifier(store=store, keyring=keyring, settings=totp_settings, audit=None),
                recovery=aio.RecoveryCodes(store=store, keyring=keyring, audit=None),
            ),
            passkeys=_passkeys(config, store, keyring),
            officer=officer,
            clock=clock,
        )

    async def close(self) -> None:
        self.accounts.close()
        await self.store.close()


def _passkeys(config: Config, store: aio.AsyncChallengeStore, keyring: Keyring) -> aio.PasskeyVerifier | None:
    """Passkeys bound to the portal's origin (``rp_id`` its host unless given)."""
    rp_id = config.passkey_rp_id
    if config.origin is None or rp_id is None:
        if not config.development:
            raise RuntimeError("outside development mode set PORTAL_ORIGIN (https://...): passkeys need it")
        log.warning("no origin known (PORTAL_ORIGIN): passkeys are off")
        return None
    roots = _pem_certificates(config.passkey_roots.read_bytes()) if config.passkey_roots else ()
    settings = PasskeySettings(
        rp_id=rp_id,
        rp_name=config.service_name,
        origins=(config.origin,),
        attestation="direct" if roots else "none",
        attestation_roots=roots,
    )
    try:
        return aio.PasskeyVerifier(store=store, keyring=keyring, settings=settings)
    except ConfigurationError as exc:  # the passkey extra (fido2) is missing
        log.warning("passkeys are off: %s", exc.message)
        return None


def _pem_certificates(data: bytes) -> tuple[bytes, ...]:
    end = b"-----END CERTIFICATE-----"
    return tuple(part.strip() + b"\n" + end + b"\n" for part in data.split(end) if part.strip())


def _dev_keyring() -> Keyring:
    """A keyring for this process, unless VERIFYKIT_KEYS gives one (then restarts keep data readable)."""
    return Keyring.from_env("VERIFYKIT_KEYS") if os.environ.get("VERIFYKIT_KEYS") else Keyring.generate()
