"""The portal's settings, read once from the environment; development mode runs on embedded defaults."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["Config"]


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class Config:
    """Where the portal keeps things and how strict it is.

    - ``development``: the mailbox page and the demo counter officer exist, cookies may travel
      over plain HTTP. Never on in production.
    - ``store_url``: verifykit's challenge store (``memory://`` or ``redis://...``).
    - ``database``: the SQLite file of accounts (``:memory:`` keeps them as long as the process,
      like the memory store and a generated keyring).
    - ``mailbox``: development only: the folder :class:`~verifykit.delivery.FileMailer` writes to.
    - ``session_secret``: signs the session cookie (random per process unless given).
    - ``max_photo_bytes``: a photo upload larger than this is refused before it is read.
    - ``origin``: where people reach the portal (``https://portal.example.org``); passkeys are
      bound to it. In development ``python -m portal`` sets ``http://localhost:PORT`` (WebAuthn
      allows plain http only on localhost, so open the portal at localhost, not 127.0.0.1).
    - ``rp_id``: the passkeys' relying party id, the origin's host unless given (a parent domain
      lets passkeys work across subdomains).
    - ``passkey_roots``: a PEM file of the attestation roots of hardware keys the operator trusts;
      given, the portal asks for attestation, and a device-bound key that chains to one of them
      signs in at AAL3 (``verifykit.passkey.assurance``).
    - ``test_clock``: development only, for tests: the store runs on a clock that
      ``/dev/clock`` moves forward (codes expire, locks end, without waiting).
    """

    development: bool = True
    store_url: str = "memory://"
    database: str = ":memory:"
    mailbox: Path = Path(".portal-mail")
    session_secret: str = ""
    officers: Path | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    service_name: str = "Applicant portal"
    max_photo_bytes: int = 8 * 1024 * 1024
    face_workers: str = "process"
    origin: str | None = None
    rp_id: str | None = None
    passkey_roots: Path | None = None
    test_clock: bool = False

    @classmethod
    def from_env(cls) -> Config:
        """``PORTAL_DEV`` (default on), ``PORTAL_STORE``, ``PORTAL_DB``, ``PORTAL_MAILBOX``,
        ``PORTAL_SECRET``, ``PORTAL_OFFICERS`` (a registry file), ``PORTAL_SMTP_HOST``/``_PORT``,
        ``PORTAL_FACE_WORKERS`` (``process``, the default, or ``thread``), ``PORTAL_ORIGIN``,
        ``PORTAL_RP_ID``, ``PORTAL_PASSKEY_ROOTS`` (a PEM file), ``PORTAL_TEST_CLOCK`` (development
        only)."""
        env = os.environ
        officers = env.get("PORTAL_OFFICERS")
        roots = env.get("PORTAL_PASSKEY_ROOTS")
        development = _flag("PORTAL_DEV", True)
        return cls(
            development=development,
            store_url=env.get("PORTAL_STORE", "memory://"),
            database=env.get("PORTAL_DB", ":memory:"),
            mailbox=Path(env.get("PORTAL_MAILBOX", ".portal-mail")),
            session_secret=env.get("PORTAL_SECRET", ""),
            officers=Path(officers) if officers else None,
            smtp_host=env.get("PORTAL_SMTP_HOST") or None,
            smtp_port=int(env.get("PORTAL_SMTP_PORT", "587")),
            face_workers=env.get("PORTAL_FACE_WORKERS", "process"),
            origin=env.get("PORTAL_ORIGIN") or None,
            rp_id=env.get("PORTAL_RP_ID") or None,
            passkey_roots=Path(roots) if roots else None,
            test_clock=development and _flag("PORTAL_TEST_CLOCK", False),
        )

    @property
    def passkey_rp_id(self) -> str | None:
        """The relying party id passkeys are bound to: ``rp_id``, else the origin's host."""
        if self.rp_id:
            return self.rp_id
        return urlsplit(self.origin).hostname if self.origin else None

    def secret(self) -> str:
        return self.session_secret or secrets.token_urlsafe(32)
