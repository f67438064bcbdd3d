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

class Fallback(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FALLBACK_UNSPECIFIED: _ClassVar[Fallback]
    FALLBACK_RESEND: _ClassVar[Fallback]
    FALLBACK_OTHER_EMAIL: _ClassVar[Fallback]
    FALLBACK_AUTHENTICATOR_APP: _ClassVar[Fallback]
    FALLBACK_RECOVERY_CODE: _ClassVar[Fallback]
    FALLBACK_ASSISTED_CHECK: _ClassVar[Fallback]
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
FALLBACK_UNSPECIFIED: Fallback
FALLBACK_RESEND: Fallback
FALLBACK_OTHER_EMAIL: Fallback
FALLBACK_AUTHENTICATOR_APP: Fallback
FALLBACK_RECOVERY_CODE: Fallback
FALLBACK_ASSISTED_CHECK: Fallback

class Verdict(_message.Message):
    __slots__ = ("approved", "reason", "attempts_left", "retry_after_seconds", "score", "distance", "challenge_id", "fallbacks", "upgraded_hash", "details")
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
    FALLBACKS_FIELD_NUMBER: _ClassVar[int]
    UPGRADED_HASH_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    approved: bool
    reason: Reason
    attempts_left: int
    retry_after_seconds: float
    score: float
    distance: float
    challenge_id: str
    fallbacks: _containers.RepeatedScalarFieldContainer[Fallback]
    upgraded_hash: str
    details: _containers.ScalarMap[str, str]
    def __init__(self, approved: _Optional[bool] = ..., reason: _Optional[_Union[Reason, str]] = ..., attempts_left: _Optional[int] = ..., retry_after_seconds: _Optional[float] = ..., score: _Optional[float] = ..., distance: _Optional[float] = ..., challenge_id: _Optional[str] = ..., fallbacks: _Optional[_Iterable[_Union[Fallback, str]]] = ..., upgraded_hash: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ...) -> None: ...
