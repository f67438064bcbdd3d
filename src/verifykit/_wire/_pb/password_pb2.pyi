from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HashPasswordRequest(_message.Message):
    __slots__ = ("password", "subject", "context")
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    password: str
    subject: str
    context: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, password: _Optional[str] = ..., subject: _Optional[str] = ..., context: _Optional[_Iterable[str]] = ...) -> None: ...

class HashPasswordResponse(_message.Message):
    __slots__ = ("hash",)
    HASH_FIELD_NUMBER: _ClassVar[int]
    hash: str
    def __init__(self, hash: _Optional[str] = ...) -> None: ...

class VerifyPasswordRequest(_message.Message):
    __slots__ = ("subject", "stored_hash", "password", "client_address")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STORED_HASH_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    stored_hash: str
    password: str
    client_address: str
    def __init__(self, subject: _Optional[str] = ..., stored_hash: _Optional[str] = ..., password: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class VerifyPasswordResponse(_message.Message):
    __slots__ = ("verdict",)
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    verdict: _common_pb2.Verdict
    def __init__(self, verdict: _Optional[_Union[_common_pb2.Verdict, _Mapping]] = ...) -> None: ...

class CheckPasswordPolicyRequest(_message.Message):
    __slots__ = ("password", "subject", "context")
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    password: str
    subject: str
    context: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, password: _Optional[str] = ..., subject: _Optional[str] = ..., context: _Optional[_Iterable[str]] = ...) -> None: ...

class CheckPasswordPolicyResponse(_message.Message):
    __slots__ = ("approved", "reason", "message")
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    approved: bool
    reason: _common_pb2.Reason
    message: str
    def __init__(self, approved: _Optional[bool] = ..., reason: _Optional[_Union[_common_pb2.Reason, str]] = ..., message: _Optional[str] = ...) -> None: ...
