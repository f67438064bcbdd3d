"""``verifykit serve --audit-file PATH --audit-key-file KEY`` writes a log ``audit verify`` accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifykit import ConfigurationError, Keyring
from verifykit.cli import main
from verifykit.client import Client
from verifykit.delivery import Outbox
from verifykit.server import Components, ServerConfig, create_server, load_config
from verifykit.testing import last_code


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "audit.key", tmp_path / "audit.pub"
    assert main(["audit", "keygen", "--private", str(private), "--public", str(public)]) == 0
    return private, public


def test_the_sidecar_writes_every_decision_to_a_log_that_verifies(
    keys: tuple[Path, Path], log_path: Path
) -> None:
    private, public = keys
    outbox = Outbox()
    config = ServerConfig(listen="127.0.0.1:0", audit_log=False, audit_file=log_path, audit_key_file=private)
    sidecar, port = create_server(config, Components(mailer=outbox, keyring=Keyring.generate()))
    sidecar.start()
    try:
        with Client(f"127.0.0.1:{port}", timeout=30.0) as client:
            challenge = client.email_otp.start("applicant-1", "ana@example.com")
            assert client.email_otp.check(challenge.id, last_code(outbox)).approved
    finally:
        sidecar.stop(0)
    text = log_path.read_text(encoding="ascii")
    assert text.count('"kind":"record"') >= 2 and "applicant-1" not in text and "ana@" not in text
    assert main(["audit", "verify", str(log_path), "--key", str(public)]) == 0


def test_an_audit_file_without_a_signing_key_is_refused(log_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="audit_key_file"):
        ServerConfig(audit_file=log_path)


def test_the_signing_key_is_refused_as_a_flag(log_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--audit-key is not accepted"):
        load_config({"audit_file": str(log_path), "audit_key": "c2VjcmV0"}, environ={})


def test_the_signing_key_may_come_from_the_environment(log_path: Path) -> None:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    config = load_config(
        {"audit_file": str(log_path)}, environ={"VERIFYKIT_AUDIT_KEY": base64.b64encode(raw).decode()}
    )
    assert config.audit_signing_key() is not None and "***" in repr(config)


def test_the_sidecar_ships_its_checkpoints_to_the_audit_anchor(
    keys: tuple[Path, Path], log_path: Path, tmp_path: Path
) -> None:
    private, public = keys
    anchor = f"dir://{tmp_path / 'anchors'}"
    config = ServerConfig(
        listen="127.0.0.1:0",
        audit_log=False,
        audit_file=log_path,
        audit_key_file=private,
        audit_anchor=anchor,
    )
    sidecar, port = create_server(config, Components(mailer=Outbox(), keyring=Keyring.generate()))
    sidecar.start()
    try:
        with Client(f"127.0.0.1:{port}", timeout=30.0) as client:
            client.email_otp.start("applicant-1", "ana@example.com")
    finally:
        sidecar.stop(0)
    assert main(["audit", "verify", str(log_path), "--key", str(public), "--anchor", anchor]) == 0
    log_path.write_bytes(log_path.read_bytes().splitlines(keepends=True)[0])  # cut back to its first line
    assert (
        main(["audit", "verify", str(log_path), "--key", str(public), "--no-head", "--anchor", anchor]) == 1
    )


def test_an_audit_anchor_without_an_audit_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="audit_anchor needs audit_file"):
        ServerConfig(audit_anchor=f"dir://{tmp_path}")


def test_an_audit_anchor_the_sidecar_cannot_use_stops_its_start(
    keys: tuple[Path, Path], log_path: Path
) -> None:
    private, _public = keys
    with pytest.raises(ConfigurationError, match="audit anchor"):
        ServerConfig(audit_file=log_path, audit_key_file=private, audit_anchor="ftp://host/anchors")


def test_the_audit_anchor_may_be_given_as_a_flag_and_its_password_is_masked(
    keys: tuple[Path, Path], log_path: Path
) -> None:
    private, _public = keys
    url = "redis://:hunter2@127.0.0.1:6379/0?stream=anchors"
    config = load_config(
        {"audit_file": str(log_path), "audit_key_file": str(private), "audit_anchor": url}, environ={}
    )
    assert config.audit_anchor == url and "hunter2" not in repr(config)
