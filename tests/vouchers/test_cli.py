"""``verifykit officer`` and ``verifykit voucher``: a counter system without Python issues and
checks vouchers from the command line, with a key file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from verifykit import Keyring
from verifykit.cli import main
from verifykit.store import MemoryStore
from verifykit.vouchers import OfficerState, Refusal, RegistryFile, Vouchers, decode_voucher

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out.strip(), err.strip()


@pytest.fixture
def desk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Two officers' key pairs (alice, bob) in ``tmp_path``, both registered in officers.json."""
    for name in ("alice", "bob"):
        assert run(capsys, "officer", "keygen", "--out", str(tmp_path / name))[0] == 0
        registry = str(tmp_path / "officers.json")
        assert (
            run(
                capsys,
                "officer",
                "add",
                "--registry",
                registry,
                "--public-key",
                str(tmp_path / f"{name}.pub"),
                "--name",
                name,
            )[0]
            == 0
        )
    return tmp_path


def sign(capsys: pytest.CaptureFixture[str], desk: Path, *extra: str) -> str:
    status, out, err = run(
        capsys, "voucher", "sign", "--key", str(desk / "alice.key"), "--subject", "user-1",
        "--reason", "lost_phone", "--unlock", "password,totp", *extra,
    )  # fmt: skip
    assert status == 0, err
    return out


@posix_only
def test_keygen_makes_a_private_key_only_its_owner_can_read(desk: Path) -> None:
    assert stat.S_IMODE((desk / "alice.key").stat().st_mode) == 0o600


def test_keygen_never_overwrites_a_key(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (desk / "alice.key").read_bytes()
    status, _, err = run(capsys, "officer", "keygen", "--out", str(desk / "alice"))
    assert status == 2 and "exists" in err
    assert (desk / "alice.key").read_bytes() == before


def test_officers_are_listed_by_key_id_with_their_state(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "officer", "list", "--registry", str(desk / "officers.json"), "--json")
    rows = json.loads(out)
    assert status == 0 and [r["name"] for r in rows] == ["alice", "bob"]
    assert all(len(r["key_id"]) == 32 and r["state"] == "active" for r in rows)


def test_a_similar_name_is_registered_with_a_warning(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "officer", "keygen", "--out", str(desk / "alice2"))
    status, _, err = run(
        capsys, "officer", "add", "--registry", str(desk / "officers.json"),
        "--public-key", str(desk / "alice2.pub"), "--name", "Alice ",
    )  # fmt: skip
    assert status == 0 and "similar name 'alice'" in err


def test_revoke_marks_the_officer_revoked(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = RegistryFile(desk / "officers.json")
    alice = next(o for o in registry.current() if o.name == "alice")
    assert run(capsys, "officer", "revoke", "--registry", str(registry.path), alice.key_id)[0] == 0
    revoked = RegistryFile(registry.path).current().get(alice.key_id)
    assert revoked is not None and revoked.state is OfficerState.REVOKED


def test_a_signed_voucher_is_redeemed_by_the_library(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = sign(capsys, desk, "--ttl", "300")
    assert decode_voucher(text).ttl == 300
    vouchers = Vouchers(
        store=MemoryStore(),
        keyring=Keyring.generate(),
        registry=RegistryFile(desk / "officers.json"),
        audit=list().append,
    )
    assert vouchers.redeem("user-1", text).approved


def test_a_cosigned_voucher_passes_four_eyes(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = sign(capsys, desk)
    status, cosigned, err = run(
        capsys, "voucher", "sign", "--key", str(desk / "bob.key"), "--subject", "user-1", "--cosign", first
    )
    assert status == 0, err
    status, out, _ = run(
        capsys, "voucher", "inspect", cosigned, "--registry", str(desk / "officers.json"),
        "--subject", "user-1", "--four-eyes", "--json",
    )  # fmt: skip
    doc = json.loads(out)
    assert status == 0 and doc["acceptable"] and doc["subject_matches"]
    assert [s["name"] for s in doc["signatures"]] == ["alice", "bob"]


def test_inspect_exits_1_naming_the_refusal(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = sign(capsys, desk)
    status, out, _ = run(
        capsys, "voucher", "inspect", text, "--registry", str(desk / "officers.json"), "--four-eyes", "--json"
    )
    assert status == 1 and json.loads(out)["refusal"] == Refusal.FOUR_EYES_REQUIRED


def test_a_ttl_above_fifteen_minutes_is_refused(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(
        capsys, "voucher", "sign", "--key", str(desk / "alice.key"), "--subject", "user-1",
        "--reason", "lost_phone", "--unlock", "password", "--ttl", "901",
    )  # fmt: skip
    assert status == 2 and "ttl" in err


@posix_only
def test_a_key_file_others_can_read_is_refused(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (desk / "alice.key").chmod(0o644)
    status, _, err = run(
        capsys, "voucher", "sign", "--key", str(desk / "alice.key"), "--subject", "user-1",
        "--reason", "lost_phone", "--unlock", "password",
    )  # fmt: skip
    assert status == 2 and "chmod 600" in err
