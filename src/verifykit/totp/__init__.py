"""Authenticator-app codes (TOTP): a way in that needs no email."""

from ._settings import TOTPSettings
from ._verifier import TOTPEnrollment, TOTPVerifier

__all__ = ["TOTPEnrollment", "TOTPSettings", "TOTPVerifier"]
