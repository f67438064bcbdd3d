"""The verifykit.v1 API: protos follow the conventions, the generated code is current, and every
library enum value has a wire value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from verifykit._wire._convert import missing_members
from verifykit.server import PROTO_ROOT
from verifykit.server._codegen import API_DOC, PB_DIR, api_reference, generate, proto_files


def test_the_checked_in_generated_code_matches_the_protos(tmp_path: Path) -> None:
    fresh = {p.name: p.read_text(encoding="utf-8") for p in generate(tmp_path)}
    checked_in = {p.name: p.read_text(encoding="utf-8") for p in PB_DIR.glob("*_pb2*")}
    stale = sorted(
        name for name in fresh.keys() | checked_in.keys() if fresh.get(name) != checked_in.get(name)
    )
    assert not stale, f"generated code is stale, run `make proto`: {stale}"


def test_the_api_reference_page_matches_the_protos() -> None:
    assert API_DOC.read_text(encoding="utf-8") == api_reference(), "docs/api.md is stale, run `make proto`"


def test_every_library_enum_member_has_a_proto_member() -> None:
    assert missing_members() == {
        "Reason": [],
        "Way": [],
        "ChallengeStatus": [],
        "Role": [],
        "SignatureStatus": [],
    }


def test_the_protos_ship_inside_the_package_under_their_package_path() -> None:
    assert [p.relative_to(PROTO_ROOT).as_posix() for p in proto_files()] == [
        "verifykit/v1/common.proto",
        "verifykit/v1/email_otp.proto",
        "verifykit/v1/password.proto",
        "verifykit/v1/face.proto",
        "verifykit/v1/totp.proto",
        "verifykit/v1/recovery.proto",
        "verifykit/v1/ladder.proto",
        "verifykit/v1/voucher.proto",
        "verifykit/v1/passkey.proto",
    ]
    for path in proto_files():
        assert "package verifykit.v1;" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("proto", proto_files(), ids=lambda p: p.name)
def test_every_enum_starts_with_an_unspecified_zero(proto: Path) -> None:
    text = proto.read_text(encoding="utf-8")
    for name, body in re.findall(r"enum (\w+) \{(.*?)\}", text, re.S):
        first = re.search(r"(\w+) = (\d+);", body)
        assert first is not None
        prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()
        assert first.groups() == (f"{prefix}_UNSPECIFIED", "0"), name


@pytest.mark.parametrize("proto", proto_files(), ids=lambda p: p.name)
def test_every_rpc_message_field_and_enum_value_has_a_comment(proto: Path) -> None:
    lines = proto.read_text(encoding="utf-8").splitlines()
    declaration = re.compile(
        r"^\s*(rpc |message |enum |service |(optional |repeated )?[\w.<>, ]+ \w+ = \d+;)"
    )
    for number, line in enumerate(lines):
        if declaration.match(line):
            assert lines[number - 1].strip().startswith("//"), f"{proto.name}:{number + 1}: {line.strip()}"


@pytest.mark.parametrize("proto", proto_files(), ids=lambda p: p.name)
def test_every_rpc_has_its_own_request_and_response_message(proto: Path) -> None:
    for method, request, response in re.findall(
        r"rpc (\w+)\((\w+)\) returns \((\w+)\)", proto.read_text(encoding="utf-8")
    ):
        assert (request, response) == (f"{method}Request", f"{method}Response")
