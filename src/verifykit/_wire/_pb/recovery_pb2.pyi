from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GenerateRecoveryCodesRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    def __init__(self, subject: _Optional[str] = ...) -> None: ...

class GenerateRecoveryCodesResponse(_message.Message):
    __slots__ = ("codes", "stored")
    CODES_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    codes: _containers.RepeatedScalarFieldContainer[str]
    stored: str
    def __init__(self, codes: _Optional[_Iterable[str]] = ..., stored: _Optional[str] = ...) -> None: ...

class RedeemRecoveryCodeRequest(_message.Message):
    __slots__ = ("subject", "stored", "code", "client_address")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    stored: str
    code: str
    client_address: str
    def __init__(self, subject: _Optional[str] = ..., stored: _Optional[str] = ..., code: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class RedeemRecoveryCodeResponse(_message.Message):
    __slots__ = ("verdict", "remaining_stored", "remaining")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_STORED_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    verdict: _common_pb2.Verdict
    remaining_stored: str
    remaining: int
    def __init__(self, verdict: _Optional[_Union[_common_pb2.Verdict, _Mapping]] = ..., remaining_stored: _Optional[str] = ..., remaining: _Optional[int] = ...) -> None: ...

class CountRecoveryCodesRequest(_message.Message):
    __slots__ = ("stored",)
    STORED_FIELD_NUMBER: _ClassVar[int]
    stored: str
    def __init__(self, stored: _Optional[str] = ...) -> None: ...

class CountRecoveryCodesResponse(_message.Message):
    __slots__ = ("remaining",)
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    remaining: int
    def __init__(self, remaining: _Optional[int] = ...) -> None: ...
