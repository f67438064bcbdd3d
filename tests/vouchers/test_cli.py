"""``verifykit officer`` and ``verifykit voucher``: a counter system without Python issues and
checks vouchers from the command line, with a key file."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from verifykit import AuditUnavailable, Keyring, Reason
from verifykit._subject import subject_tag
from verifykit.auditlog import AuditLog, load_public_key, verify_log
from verifykit.cli import main
from verifykit.store import MemoryStore
from verifykit.vouchers import (
    DEFAULT_UNLOCKS,
    OfficerState,
    RegistryFile,
    Vouchers,
    decode_voucher,
    key_id,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out.strip(), err.strip()


def registry_id(capsys: pytest.CaptureFixture[str], registry: Path) -> str:
    """``officer init``: the registry's id, made (with the file) on first use."""
    status, out, err = run(capsys, "officer", "init", "--registry", str(registry))
    assert status == 0, err
    return out.removeprefix("registry id ")


def prove(capsys: pytest.CaptureFixture[str], key: Path, registry: Path) -> Path:
    """``officer prove`` with ``key`` for ``registry``, saved next to the key as NAME.proof."""
    status, out, err = run(
        capsys, "officer", "prove", "--key", str(key), "--registry-id", registry_id(capsys, registry)
    )
    assert status == 0, err
    proof = key.with_suffix(".proof")
    proof.write_text(out + "\n")
    return proof


def add(
    capsys: pytest.CaptureFixture[str], desk: Path, prefix: str, name: str, *, proof: Path | None = None
) -> tuple[int, str, str]:
    """``officer add`` of desk/PREFIX.pub to desk/officers.json, with the officer's own proof by default."""
    registry = desk / "officers.json"
    proof = proof or prove(capsys, desk / f"{prefix}.key", registry)
    return run(
        capsys, "officer", "add", "--registry", str(registry), "--public-key", str(desk / f"{prefix}.pub"),
        "--proof", str(proof), "--name", name,
    )  # fmt: skip


@pytest.fixture
def desk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Two officers' key pairs (alice, bob) in ``tmp_path``, both registered in officers.json."""
    for name in ("alice", "bob"):
        assert run(capsys, "officer", "keygen", "--out", str(tmp_path / name))[0] == 0
        status, _, err = add(capsys, tmp_path, name, name)
        assert status == 0, err
    return tmp_path


def sign(capsys: pytest.CaptureFixture[str], desk: Path, *extra: str) -> str:
    return sign_unlocking(capsys, desk, "password,authenticator_app", *extra)


def sign_unlocking(capsys: pytest.CaptureFixture[str], desk: Path, unlock: str, *extra: str) -> str:
    status, out, err = run(
        capsys, "voucher", "sign", "--key", str(desk / "alice.key"), "--subject", "user-1",
        "--reason", "lost_phone", "--unlock", unlock, *extra,
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
    status, _, err = add(capsys, desk, "alice2", "Alice ")
    assert status == 0 and "similar name 'alice'" in err


def test_an_officer_cannot_be_added_without_a_proof(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "officer", "keygen", "--out", str(desk / "carol"))
    with pytest.raises(SystemExit) as usage:
        main(["officer", "add", "--registry", str(desk / "officers.json"),
              "--public-key", str(desk / "carol.pub"), "--name", "carol"])  # fmt: skip
    assert usage.value.code == 2 and "--proof" in capsys.readouterr().err


def test_a_key_is_added_only_with_a_proof_made_with_its_own_private_key(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "officer", "keygen", "--out", str(desk / "carol"))
    before = (desk / "officers.json").read_bytes()
    bobs_proof = prove(capsys, desk / "bob.key", desk / "officers.json")
    status, out, err = add(capsys, desk, "carol", "carol", proof=bobs_proof)
    assert status == 2 and out == "" and "proof of possession" in err
    assert (desk / "officers.json").read_bytes() == before


def test_a_proof_made_for_another_registry_adds_nothing(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "officer", "keygen", "--out", str(desk / "carol"))
    elsewhere = prove(capsys, desk / "carol.key", desk / "elsewhere.json")
    status, _, err = add(capsys, desk, "carol", "carol", proof=elsewhere)
    assert status == 2 and "made for registry" in err
    assert [o.name for o in RegistryFile(desk / "officers.json").current()] == ["alice", "bob"]


def test_the_identity_point_is_refused_as_an_officer_key_even_with_a_forged_proof(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    identity = bytes.fromhex("01" + "00" * 31)
    (desk / "mallory.pub").write_bytes(
        Ed25519PublicKey.from_public_bytes(identity).public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
        )
    )
    rid = bytes.fromhex(registry_id(capsys, desk / "officers.json"))
    forged = b"\x01" + rid + bytes.fromhex(key_id(identity)) + identity + bytes(32)
    (desk / "mallory.proof").write_text(base64.urlsafe_b64encode(forged).decode().rstrip("="))
    status, _, err = add(capsys, desk, "mallory", "mallory", proof=desk / "mallory.proof")
    assert status == 2 and "small-order" in err
    assert len(RegistryFile(desk / "officers.json").current()) == 2


def test_adding_to_a_registry_not_yet_made_says_to_run_init(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "officer", "keygen", "--out", str(tmp_path / "carol"))
    (tmp_path / "carol.proof").write_text("unused")
    status, _, err = add(capsys, tmp_path, "carol", "carol", proof=tmp_path / "carol.proof")
    assert status == 2 and "officer init" in err
    assert not (tmp_path / "officers.json").exists()


def test_init_gives_a_registry_written_before_ids_an_id_and_keeps_its_officers(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = desk / "officers.json"
    doc = json.loads(path.read_text())
    del doc["registry_id"]
    path.write_text(json.dumps(doc))
    new_id = registry_id(capsys, path)
    again = RegistryFile(path).current()
    assert again.registry_id == new_id and [o.name for o in again] == ["alice", "bob"]
    assert registry_id(capsys, path) == new_id  # init is idempotent


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
    assert status == 1 and json.loads(out)["reason"] == Reason.FOUR_EYES_REQUIRED


def test_inspect_keeps_why_the_voucher_was_issued_apart_from_why_it_is_refused(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = sign(capsys, desk)
    status, out, _ = run(
        capsys, "voucher", "inspect", text, "--registry", str(desk / "officers.json"), "--four-eyes", "--json"
    )
    doc = json.loads(out)
    assert status == 1
    assert (doc["reason"], doc["voucher_reason"]) == (Reason.FOUR_EYES_REQUIRED, "lost_phone")


def test_a_ttl_above_fifteen_minutes_is_refused(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(
        capsys, "voucher", "sign", "--key", str(desk / "alice.key"), "--subject", "user-1",
        "--reason", "lost_phone", "--unlock", "password", "--ttl", "901",
    )  # fmt: skip
    assert status == 2 and "ttl" in err


def test_every_way_in_a_voucher_can_unlock_is_accepted_by_name(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = [way.value for way in DEFAULT_UNLOCKS]
    text = sign_unlocking(capsys, desk, " , ".join(names))
    assert decode_voucher(text).unlocks == tuple(names)


def test_the_names_of_earlier_releases_are_signed_as_the_ways_they_mean(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = sign_unlocking(capsys, desk, "otp,totp,recovery")
    assert decode_voucher(text).unlocks == ("email_code", "authenticator_app", "recovery_code")


def sign_refused(capsys: pytest.CaptureFixture[str], desk: Path, unlock: str) -> tuple[object, str, str]:
    """``voucher sign --unlock UNLOCK``, expected to stop at the command line: its exit code and output."""
    with pytest.raises(SystemExit) as stopped:
        main(["voucher", "sign", "--key", str(desk / "alice.key"), "--subject", "user-1",
              "--reason", "lost_phone", "--unlock", unlock])  # fmt: skip
    out, err = capsys.readouterr()
    return stopped.value.code, out, err


@pytest.mark.parametrize(("unlock", "unknown"), [("pasword", "'pasword'"), ("totp,sms,pin", "'sms', 'pin'")])
def test_an_unlock_name_no_voucher_can_unlock_is_refused_listing_the_valid_ones(
    unlock: str, unknown: str, desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = sign_refused(capsys, desk, unlock)
    assert (code, out) == (2, "")  # no voucher printed
    assert f"argument --unlock: {unknown}" in err
    assert ", ".join(way.value for way in DEFAULT_UNLOCKS) in err


@pytest.mark.parametrize("name", ["counter_voucher", "voucher"])
def test_a_voucher_cannot_unlock_vouchers(name: str, desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = sign_refused(capsys, desk, name)
    assert (code, out) == (2, "") and f"'{name}' is not a way in a voucher can unlock" in err


@pytest.mark.parametrize("unlock", ["", ",", " , "])
def test_an_unlock_list_naming_no_way_in_is_refused(
    unlock: str, desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = sign_refused(capsys, desk, unlock)
    assert (code, out) == (2, "") and "argument --unlock: names no way in" in err


@posix_only
def test_a_key_file_others_can_read_is_refused(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (desk / "alice.key").chmod(0o644)
    status, _, err = run(
        capsys, "voucher", "sign", "--key", str(desk / "alice.key"), "--subject", "user-1",
        "--reason", "lost_phone", "--unlock", "password",
    )  # fmt: skip
    assert status == 2 and "chmod 600" in err


# -- the issuance record ----------------------------------------------------------------------


@pytest.fixture
def audit_key(desk: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A checkpoint key pair for the counter's audit log: desk/audit.key and desk/audit.pub."""
    status, _, err = run(
        capsys, "audit", "keygen", "--private", str(desk / "audit.key"), "--public", str(desk / "audit.pub")
    )
    assert status == 0, err
    return desk / "audit.key"


def audited(desk: Path, audit_key: Path) -> tuple[str, ...]:
    return ("--audit-file", str(desk / "counter.log"), "--audit-key-file", str(audit_key))


def new_voucher(desk: Path) -> tuple[str, ...]:
    return ("voucher", "sign", "--key", str(desk / "alice.key"), "--subject", "user-1",
            "--reason", "lost_phone", "--unlock", "password")  # fmt: skip


def records(log: Path) -> list[dict[str, object]]:
    return [doc for doc in map(json.loads, log.read_text().splitlines()) if doc["kind"] == "record"]


def test_a_signed_voucher_is_recorded_without_the_voucher_or_the_subject(
    desk: Path, audit_key: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VERIFYKIT_KEYS", raising=False)
    text = sign(capsys, desk, "--ttl", "300", *audited(desk, audit_key))
    voucher = decode_voucher(text)
    [record] = records(desk / "counter.log")
    alice = next(o for o in RegistryFile(desk / "officers.json").current() if o.name == "alice")
    assert (record["action"], record["verifier"], record["outcome"], record["reason"]) == (
        "voucher_issue", "counter_voucher", "issued", "lost_phone",
    )  # fmt: skip
    assert record["subject"] == voucher.subject_digest.hex()
    assert record["details"] == {
        "subject_form": "voucher_digest",
        "officer": alice.key_id,
        "officers": alice.key_id,
        "voucher_reason": "lost_phone",
        "unlocks": "password,authenticator_app",
        "issued_at": str(voucher.issued_at),
        "expires_at": str(voucher.issued_at + 300),
        "nonce_sha256": hashlib.sha256(voucher.nonce).hexdigest(),
    }
    written = (desk / "counter.log").read_text()
    assert text not in written and "user-1" not in written and voucher.nonce_hex not in written


def test_with_the_services_keyring_the_subject_is_recorded_as_its_keyed_tag(
    desk: Path, audit_key: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = Keyring.new_keyring_string()
    monkeypatch.setenv("VERIFYKIT_KEYS", keys)
    sign(capsys, desk, *audited(desk, audit_key))
    [record] = records(desk / "counter.log")
    assert record["subject_tag"] == subject_tag(Keyring.from_string(keys), "user-1")
    assert "subject" not in record and record["details"]["subject_form"] == "keyed_tag"  # type: ignore[index]


def test_the_record_is_on_disk_and_sealed_before_the_voucher_is_printed(
    desk: Path, audit_key: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = desk / "counter.log"
    seen: list[tuple[str, list[dict[str, object]], bool]] = []

    class Counter(io.StringIO):  # the counter system reading the voucher off standard output
        def write(self, text: str) -> int:
            if text.strip():
                report = verify_log(log, load_public_key(desk / "audit.pub"))
                seen.append((text.strip(), records(log), report.ok and not report.warnings))
            return super().write(text)

    monkeypatch.setattr(sys, "stdout", Counter())
    assert main([*new_voucher(desk), *audited(desk, audit_key)]) == 0
    [(text, written, sealed)] = seen
    nonce = decode_voucher(text).nonce
    assert [r["details"]["nonce_sha256"] for r in written] == [hashlib.sha256(nonce).hexdigest()]  # type: ignore[index]
    assert sealed


def test_a_cosignature_is_recorded_with_both_officers(
    desk: Path, audit_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = sign(capsys, desk, *audited(desk, audit_key))
    status, cosigned, err = run(
        capsys, "voucher", "sign", "--key", str(desk / "bob.key"), "--subject", "user-1",
        "--cosign", first, *audited(desk, audit_key),
    )  # fmt: skip
    assert status == 0, err
    issued, second = records(desk / "counter.log")
    officers = [s.key_id for s in decode_voucher(cosigned).signatures]
    assert (issued["outcome"], second["outcome"]) == ("issued", "cosigned")
    assert second["details"]["officer"] == officers[1]  # type: ignore[index]
    assert second["details"]["officers"] == ",".join(officers)  # type: ignore[index]
    assert second["details"]["nonce_sha256"] == issued["details"]["nonce_sha256"]  # type: ignore[index]


def test_the_counters_log_passes_audit_verify(
    desk: Path, audit_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        sign(capsys, desk, *audited(desk, audit_key))
    status, out, err = run(
        capsys, "audit", "verify", str(desk / "counter.log"), "--key", str(desk / "audit.pub")
    )
    assert status == 0, err
    assert "3 records, 3 writer(s)" in out


@pytest.mark.parametrize("where", ["missing_directory", "full_disk"])
def test_a_voucher_whose_record_cannot_be_written_is_never_printed(
    desk: Path, audit_key: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    log = desk / "gone" / "counter.log" if where == "missing_directory" else Path("/dev/full")
    if where == "full_disk" and not log.exists():
        pytest.skip("/dev/full is Linux's")
    status, out, err = run(
        capsys, "voucher", "sign", "--key", str(desk / "alice.key"), "--subject", "user-1",
        "--reason", "lost_phone", "--unlock", "password",
        "--audit-file", str(log), "--audit-key-file", str(audit_key),
    )  # fmt: skip
    assert status == 2 and out == ""
    assert "audit log" in err


def test_a_voucher_is_not_printed_when_its_record_fails_after_the_log_opened(
    desk: Path, audit_key: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: AuditLog, event: object) -> None:
        raise AuditUnavailable("cannot write the audit log: No space left on device")

    monkeypatch.setattr(AuditLog, "append", broken)
    status, out, err = run(capsys, *new_voucher(desk), *audited(desk, audit_key))
    assert status == 2 and out == "" and "audit log" in err


def test_an_audit_file_needs_its_key(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(
        capsys, "voucher", "sign", "--key", str(desk / "alice.key"), "--subject", "user-1",
        "--reason", "lost_phone", "--unlock", "password", "--audit-file", str(desk / "counter.log"),
    )  # fmt: skip
    assert status == 2 and out == "" and "--audit-key-file" in err
    assert not (desk / "counter.log").exists()


@posix_only
def test_an_audit_key_others_can_read_is_refused(
    desk: Path, audit_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit_key.chmod(0o644)
    status, out, err = run(capsys, *new_voucher(desk), *audited(desk, audit_key))
    assert status == 2 and out == "" and "chmod 600" in err
