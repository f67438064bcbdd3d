"""verifykit: prove a person is who they claim to be.

Email one-time codes, passwords and faces, over one rate-limited challenge store.
"""

from ._audit import AuditEvent, AuditSink, LoggingAuditSink
from ._clock import Clock, SystemClock
from ._errors import (
    AuditUnavailable,
    BusyError,
    ChallengeClosed,
    ChallengeNotFound,
    ConfigurationError,
    DeadlineExceeded,
    DeliveryError,
    ImageError,
    ImageTooCostly,
    InvalidInput,
    KeyringError,
    RateLimited,
    SidecarError,
    StoreUnavailable,
    TemplateError,
    VerifyKitError,
    WorkerLost,
)
from ._verdict import Reason, Result, Verdict, Way, WaysIn
from .crypto import Keyring
from .store import ChallengeStore, LockoutPolicy, WindowPolicy, open_store

__version__ = "0.1.0"

__all__ = [
    "AuditEvent",
    "AuditSink",
    "AuditUnavailable",
    "BusyError",
    "ChallengeClosed",
    "ChallengeNotFound",
    "ChallengeStore",
    "Clock",
    "ConfigurationError",
    "DeadlineExceeded",
    "DeliveryError",
    "ImageError",
    "ImageTooCostly",
    "InvalidInput",
    "Keyring",
    "KeyringError",
    "LockoutPolicy",
    "LoggingAuditSink",
    "RateLimited",
    "Reason",
    "Result",
    "SidecarError",
    "StoreUnavailable",
    "SystemClock",
    "TemplateError",
    "Verdict",
    "VerifyKitError",
    "Way",
    "WaysIn",
    "WindowPolicy",
    "WorkerLost",
    "__version__",
    "open_store",
]
