import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChallengeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHALLENGE_STATUS_UNSPECIFIED: _ClassVar[ChallengeStatus]
    CHALLENGE_STATUS_PENDING: _ClassVar[ChallengeStatus]
    CHALLENGE_STATUS_APPROVED: _ClassVar[ChallengeStatus]
    CHALLENGE_STATUS_DENIED: _ClassVar[ChallengeStatus]
    CHALLENGE_STATUS_EXPIRED: _ClassVar[ChallengeStatus]
    CHALLENGE_STATUS_CANCELED: _ClassVar[ChallengeStatus]

class DeliveryStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_STATUS_UNSPECIFIED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_QUEUED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_SENT: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_FAILED: _ClassVar[DeliveryStatus]
CHALLENGE_STATUS_UNSPECIFIED: ChallengeStatus
CHALLENGE_STATUS_PENDING: ChallengeStatus
CHALLENGE_STATUS_APPROVED: ChallengeStatus
CHALLENGE_STATUS_DENIED: ChallengeStatus
CHALLENGE_STATUS_EXPIRED: ChallengeStatus
CHALLENGE_STATUS_CANCELED: ChallengeStatus
DELIVERY_STATUS_UNSPECIFIED: DeliveryStatus
DELIVERY_STATUS_QUEUED: DeliveryStatus
DELIVERY_STATUS_SENT: DeliveryStatus
DELIVERY_STATUS_FAILED: DeliveryStatus

class EmailOtpChallenge(_message.Message):
    __slots__ = ("id", "subject", "status", "destination", "create_time", "expire_time", "attempts_left", "sends", "resend_time", "resend_after_seconds", "delivery", "delivery_reason", "ways_in", "live_sends")
    ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_LEFT_FIELD_NUMBER: _ClassVar[int]
    SENDS_FIELD_NUMBER: _ClassVar[int]
    RESEND_TIME_FIELD_NUMBER: _ClassVar[int]
    RESEND_AFTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_REASON_FIELD_NUMBER: _ClassVar[int]
    WAYS_IN_FIELD_NUMBER: _ClassVar[int]
    LIVE_SENDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    subject: str
    status: ChallengeStatus
    destination: str
    create_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    attempts_left: int
    sends: int
    resend_time: _timestamp_pb2.Timestamp
    resend_after_seconds: float
    delivery: DeliveryStatus
    delivery_reason: str
    ways_in: _containers.RepeatedScalarFieldContainer[_common_pb2.Way]
    live_sends: int
    def __init__(self, id: _Optional[str] = ..., subject: _Optional[str] = ..., status: _Optional[_Union[ChallengeStatus, str]] = ..., destination: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempts_left: _Optional[int] = ..., sends: _Optional[int] = ..., resend_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resend_after_seconds: _Optional[float] = ..., delivery: _Optional[_Union[DeliveryStatus, str]] = ..., delivery_reason: _Optional[str] = ..., ways_in: _Optional[_Iterable[_Union[_common_pb2.Way, str]]] = ..., live_sends: _Optional[int] = ...) -> None: ...

class StartEmailOtpRequest(_message.Message):
    __slots__ = ("subject", "email", "locale", "client_address", "enrolled")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_FIELD_NUMBER: _ClassVar[int]
    subject: str
    email: str
    locale: str
    client_address: str
    enrolled: _containers.RepeatedScalarFieldContainer[_common_pb2.Way]
    def __init__(self, subject: _Optional[str] = ..., email: _Optional[str] = ..., locale: _Optional[str] = ..., client_address: _Optional[str] = ..., enrolled: _Optional[_Iterable[_Union[_common_pb2.Way, str]]] = ...) -> None: ...

class StartEmailOtpResponse(_message.Message):
    __slots__ = ("challenge",)
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    challenge: EmailOtpChallenge
    def __init__(self, challenge: _Optional[_Union[EmailOtpChallenge, _Mapping]] = ...) -> None: ...

class CheckEmailOtpRequest(_message.Message):
    __slots__ = ("challenge_id", "code", "client_address", "enrolled")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    code: str
    client_address: str
    enrolled: _containers.RepeatedScalarFieldContainer[_common_pb2.Way]
    def __init__(self, challenge_id: _Optional[str] = ..., code: _Optional[str] = ..., client_address: _Optional[str] = ..., enrolled: _Optional[_Iterable[_Union[_common_pb2.Way, str]]] = ...) -> None: ...

class CheckEmailOtpResponse(_message.Message):
    __slots__ = ("verdict", "send")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    SEND_FIELD_NUMBER: _ClassVar[int]
    verdict: _common_pb2.Verdict
    send: int
    def __init__(self, verdict: _Optional[_Union[_common_pb2.Verdict, _Mapping]] = ..., send: _Optional[int] = ...) -> None: ...

class ResendEmailOtpRequest(_message.Message):
    __slots__ = ("challenge_id", "client_address", "enrolled")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    client_address: str
    enrolled: _containers.RepeatedScalarFieldContainer[_common_pb2.Way]
    def __init__(self, challenge_id: _Optional[str] = ..., client_address: _Optional[str] = ..., enrolled: _Optional[_Iterable[_Union[_common_pb2.Way, str]]] = ...) -> None: ...

class ResendEmailOtpResponse(_message.Message):
    __slots__ = ("challenge",)
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    challenge: EmailOtpChallenge
    def __init__(self, challenge: _Optional[_Union[EmailOtpChallenge, _Mapping]] = ...) -> None: ...

class CancelEmailOtpRequest(_message.Message):
    __slots__ = ("challenge_id",)
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    def __init__(self, challenge_id: _Optional[str] = ...) -> None: ...

class CancelEmailOtpResponse(_message.Message):
    __slots__ = ("challenge",)
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    challenge: EmailOtpChallenge
    def __init__(self, challenge: _Optional[_Union[EmailOtpChallenge, _Mapping]] = ...) -> None: ...

class GetEmailOtpStatusRequest(_message.Message):
    __slots__ = ("challenge_id", "enrolled")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    enrolled: _containers.RepeatedScalarFieldContainer[_common_pb2.Way]
    def __init__(self, challenge_id: _Optional[str] = ..., enrolled: _Optional[_Iterable[_Union[_common_pb2.Way, str]]] = ...) -> None: ...

class GetEmailOtpStatusResponse(_message.Message):
    __slots__ = ("challenge",)
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    challenge: EmailOtpChallenge
    def __init__(self, challenge: _Optional[_Union[EmailOtpChallenge, _Mapping]] = ...) -> None: ...
