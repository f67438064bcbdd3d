import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import common_pb2 as _common_pb2
from . import email_otp_pb2 as _email_otp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssuranceLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSURANCE_LEVEL_UNSPECIFIED: _ClassVar[AssuranceLevel]
    ASSURANCE_LEVEL_AAL1: _ClassVar[AssuranceLevel]
    ASSURANCE_LEVEL_AAL2: _ClassVar[AssuranceLevel]
    ASSURANCE_LEVEL_AAL3: _ClassVar[AssuranceLevel]

class WayRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WAY_ROLE_UNSPECIFIED: _ClassVar[WayRole]
    WAY_ROLE_AUTHENTICATOR: _ClassVar[WayRole]
    WAY_ROLE_ADDRESS_PROOF: _ClassVar[WayRole]
    WAY_ROLE_IDENTITY_EVIDENCE: _ClassVar[WayRole]
    WAY_ROLE_RECOVERY: _ClassVar[WayRole]
ASSURANCE_LEVEL_UNSPECIFIED: AssuranceLevel
ASSURANCE_LEVEL_AAL1: AssuranceLevel
ASSURANCE_LEVEL_AAL2: AssuranceLevel
ASSURANCE_LEVEL_AAL3: AssuranceLevel
WAY_ROLE_UNSPECIFIED: WayRole
WAY_ROLE_AUTHENTICATOR: WayRole
WAY_ROLE_ADDRESS_PROOF: WayRole
WAY_ROLE_IDENTITY_EVIDENCE: WayRole
WAY_ROLE_RECOVERY: WayRole

class Rung(_message.Message):
    __slots__ = ("way", "open", "role", "level", "reason", "retry_after_seconds", "until")
    WAY_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    way: _common_pb2.Way
    open: bool
    role: WayRole
    level: AssuranceLevel
    reason: _common_pb2.Reason
    retry_after_seconds: float
    until: _timestamp_pb2.Timestamp
    def __init__(self, way: _Optional[_Union[_common_pb2.Way, str]] = ..., open: _Optional[bool] = ..., role: _Optional[_Union[WayRole, str]] = ..., level: _Optional[_Union[AssuranceLevel, str]] = ..., reason: _Optional[_Union[_common_pb2.Reason, str]] = ..., retry_after_seconds: _Optional[float] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Combination(_message.Message):
    __slots__ = ("ways", "level")
    WAYS_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    ways: _containers.RepeatedScalarFieldContainer[_common_pb2.Way]
    level: AssuranceLevel
    def __init__(self, ways: _Optional[_Iterable[_Union[_common_pb2.Way, str]]] = ..., level: _Optional[_Union[AssuranceLevel, str]] = ...) -> None: ...

class GetWaysInRequest(_message.Message):
    __slots__ = ("subject", "enrolled", "delivery", "level", "passkey_level")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    PASSKEY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    subject: str
    enrolled: _containers.RepeatedScalarFieldContainer[_common_pb2.Way]
    delivery: _email_otp_pb2.DeliveryStatus
    level: AssuranceLevel
    passkey_level: AssuranceLevel
    def __init__(self, subject: _Optional[str] = ..., enrolled: _Optional[_Iterable[_Union[_common_pb2.Way, str]]] = ..., delivery: _Optional[_Union[_email_otp_pb2.DeliveryStatus, str]] = ..., level: _Optional[_Union[AssuranceLevel, str]] = ..., passkey_level: _Optional[_Union[AssuranceLevel, str]] = ...) -> None: ...

class GetWaysInResponse(_message.Message):
    __slots__ = ("level", "open", "closed", "combinations", "budget_failures", "budget_hard_locked", "budget_retry_after_seconds")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    COMBINATIONS_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FAILURES_FIELD_NUMBER: _ClassVar[int]
    BUDGET_HARD_LOCKED_FIELD_NUMBER: _ClassVar[int]
    BUDGET_RETRY_AFTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    level: AssuranceLevel
    open: _containers.RepeatedCompositeFieldContainer[Rung]
    closed: _containers.RepeatedCompositeFieldContainer[Rung]
    combinations: _containers.RepeatedCompositeFieldContainer[Combination]
    budget_failures: int
    budget_hard_locked: bool
    budget_retry_after_seconds: float
    def __init__(self, level: _Optional[_Union[AssuranceLevel, str]] = ..., open: _Optional[_Iterable[_Union[Rung, _Mapping]]] = ..., closed: _Optional[_Iterable[_Union[Rung, _Mapping]]] = ..., combinations: _Optional[_Iterable[_Union[Combination, _Mapping]]] = ..., budget_failures: _Optional[int] = ..., budget_hard_locked: _Optional[bool] = ..., budget_retry_after_seconds: _Optional[float] = ...) -> None: ...
