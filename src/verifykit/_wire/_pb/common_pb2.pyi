from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Reason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REASON_UNSPECIFIED: _ClassVar[Reason]
    REASON_APPROVED: _ClassVar[Reason]
    REASON_WRONG_CODE: _ClassVar[Reason]
    REASON_EXPIRED: _ClassVar[Reason]
    REASON_ATTEMPTS_EXHAUSTED: _ClassVar[Reason]
    REASON_RATE_LIMITED: _ClassVar[Reason]
    REASON_LOCKED_OUT: _ClassVar[Reason]
    REASON_REPLAYED: _ClassVar[Reason]
    REASON_CANCELED: _ClassVar[Reason]
    REASON_DENIED: _ClassVar[Reason]
    REASON_NOT_FOUND: _ClassVar[Reason]
    REASON_WRONG_PASSWORD: _ClassVar[Reason]
    REASON_NO_FACE: _ClassVar[Reason]
    REASON_MULTIPLE_FACES: _ClassVar[Reason]
    REASON_LOW_QUALITY: _ClassVar[Reason]
    REASON_FACE_TOO_SMALL: _ClassVar[Reason]
    REASON_BLURRY: _ClassVar[Reason]
    REASON_TOO_DARK: _ClassVar[Reason]
    REASON_TOO_BRIGHT: _ClassVar[Reason]
    REASON_MISMATCH: _ClassVar[Reason]
    REASON_HARD_LOCKED: _ClassVar[Reason]
    REASON_NOT_ENROLLED: _ClassVar[Reason]
    REASON_DELIVERY_FAILED: _ClassVar[Reason]
    REASON_BELOW_LEVEL: _ClassVar[Reason]
    REASON_TOO_SHORT: _ClassVar[Reason]
    REASON_TOO_LONG: _ClassVar[Reason]
    REASON_BREACHED: _ClassVar[Reason]
    REASON_REPETITIVE: _ClassVar[Reason]
    REASON_SEQUENTIAL: _ClassVar[Reason]
    REASON_CONTEXT: _ClassVar[Reason]
    REASON_MALFORMED: _ClassVar[Reason]
    REASON_BAD_SIGNATURE: _ClassVar[Reason]
    REASON_UNKNOWN_OFFICER: _ClassVar[Reason]
    REASON_REVOKED_OFFICER: _ClassVar[Reason]
    REASON_SAME_OFFICER: _ClassVar[Reason]
    REASON_FOUR_EYES_REQUIRED: _ClassVar[Reason]
    REASON_TTL_TOO_LONG: _ClassVar[Reason]
    REASON_NOT_YET_VALID: _ClassVar[Reason]
    REASON_WRONG_SUBJECT: _ClassVar[Reason]
    REASON_NOT_UNLOCKABLE: _ClassVar[Reason]
    REASON_WRONG_ORIGIN: _ClassVar[Reason]
    REASON_WRONG_RP_ID: _ClassVar[Reason]
    REASON_USER_NOT_VERIFIED: _ClassVar[Reason]
    REASON_CLONED_AUTHENTICATOR: _ClassVar[Reason]
    REASON_UNKNOWN_CREDENTIAL: _ClassVar[Reason]

class Way(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WAY_UNSPECIFIED: _ClassVar[Way]
    WAY_EMAIL_CODE: _ClassVar[Way]
    WAY_PASSWORD: _ClassVar[Way]
    WAY_AUTHENTICATOR_APP: _ClassVar[Way]
    WAY_RECOVERY_CODE: _ClassVar[Way]
    WAY_PASSKEY: _ClassVar[Way]
    WAY_FACE: _ClassVar[Way]
    WAY_COUNTER_VOUCHER: _ClassVar[Way]
REASON_UNSPECIFIED: Reason
REASON_APPROVED: Reason
REASON_WRONG_CODE: Reason
REASON_EXPIRED: Reason
REASON_ATTEMPTS_EXHAUSTED: Reason
REASON_RATE_LIMITED: Reason
REASON_LOCKED_OUT: Reason
REASON_REPLAYED: Reason
REASON_CANCELED: Reason
REASON_DENIED: Reason
REASON_NOT_FOUND: Reason
REASON_WRONG_PASSWORD: Reason
REASON_NO_FACE: Reason
REASON_MULTIPLE_FACES: Reason
REASON_LOW_QUALITY: Reason
REASON_FACE_TOO_SMALL: Reason
REASON_BLURRY: Reason
REASON_TOO_DARK: Reason
REASON_TOO_BRIGHT: Reason
REASON_MISMATCH: Reason
REASON_HARD_LOCKED: Reason
REASON_NOT_ENROLLED: Reason
REASON_DELIVERY_FAILED: Reason
REASON_BELOW_LEVEL: Reason
REASON_TOO_SHORT: Reason
REASON_TOO_LONG: Reason
REASON_BREACHED: Reason
REASON_REPETITIVE: Reason
REASON_SEQUENTIAL: Reason
REASON_CONTEXT: Reason
REASON_MALFORMED: Reason
REASON_BAD_SIGNATURE: Reason
REASON_UNKNOWN_OFFICER: Reason
REASON_REVOKED_OFFICER: Reason
REASON_SAME_OFFICER: Reason
REASON_FOUR_EYES_REQUIRED: Reason
REASON_TTL_TOO_LONG: Reason
REASON_NOT_YET_VALID: Reason
REASON_WRONG_SUBJECT: Reason
REASON_NOT_UNLOCKABLE: Reason
REASON_WRONG_ORIGIN: Reason
REASON_WRONG_RP_ID: Reason
REASON_USER_NOT_VERIFIED: Reason
REASON_CLONED_AUTHENTICATOR: Reason
REASON_UNKNOWN_CREDENTIAL: Reason
WAY_UNSPECIFIED: Way
WAY_EMAIL_CODE: Way
WAY_PASSWORD: Way
WAY_AUTHENTICATOR_APP: Way
WAY_RECOVERY_CODE: Way
WAY_PASSKEY: Way
WAY_FACE: Way
WAY_COUNTER_VOUCHER: Way

class Verdict(_message.Message):
    __slots__ = ("approved", "reason", "attempts_left", "retry_after_seconds", "score", "distance", "challenge_id", "ways_in", "upgraded_hash", "details", "budget_left")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_LEFT_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    WAYS_IN_FIELD_NUMBER: _ClassVar[int]
    UPGRADED_HASH_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    BUDGET_LEFT_FIELD_NUMBER: _ClassVar[int]
    approved: bool
    reason: Reason
    attempts_left: int
    retry_after_seconds: float
    score: float
    distance: float
    challenge_id: str
    ways_in: _containers.RepeatedScalarFieldContainer[Way]
    upgraded_hash: str
    details: _containers.ScalarMap[str, str]
    budget_left: int
    def __init__(self, approved: _Optional[bool] = ..., reason: _Optional[_Union[Reason, str]] = ..., attempts_left: _Optional[int] = ..., retry_after_seconds: _Optional[float] = ..., score: _Optional[float] = ..., distance: _Optional[float] = ..., challenge_id: _Optional[str] = ..., ways_in: _Optional[_Iterable[_Union[Way, str]]] = ..., upgraded_hash: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ..., budget_left: _Optional[int] = ...) -> None: ...
