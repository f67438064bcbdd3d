"""Credentials stay off the wire and out of sight: the client sends a token only over TLS or
loopback, and ``verifykit serve`` takes secrets from variables and files, never its command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sidecars import PKI, Serve, ServeProcess

from verifykit import ConfigurationError
from verifykit._wire import is_loopback_target
from verifykit.cli import main
from verifykit.client import Client

TOKEN = "s3cret-token-for-tests-0123456789"
PASSWORD = "pw-Zq8vX1-never-shown"


@pytest.mark.parametrize(
    "target",
    [
        "127.0.0.1:50051",
        "127.3.2.1:50051",
        "localhost:50051",
        "LOCALHOST",
        "[::1]:50051",
        "::1",
        "dns:///localhost:50051",
        "ipv4:127.0.0.1:50051,127.0.0.2:50051",
        "ipv6:[::1]:50051",
        "unix:/run/verifykit.sock",
        "unix:///run/verifykit.sock",
        "unix-abstract:verifykit",
    ],
)
def test_these_targets_are_loopback(target: str) -> None:
    assert is_loopback_target(target)


@pytest.mark.parametrize(
    "target",
    [
        "sidecar.internal:50051",
        "10.1.2.3:50051",
        "0.0.0.0:50051",
        "127.0.0.1.example.org:50051",
        "[2001:db8::1]:50051",
        "dns:///sidecar.internal:50051",
        "ipv4:127.0.0.1:50051,10.1.2.3:50051",
        "",
    ],
)
def test_these_targets_are_not_loopback(target: str) -> None:
    assert not is_loopback_target(target)


def test_the_client_refuses_a_token_over_plaintext_beyond_loopback() -> None:
    with pytest.raises(ConfigurationError, match="clear text") as caught:
        Client("sidecar.internal:50051", token=TOKEN)
    assert TOKEN not in str(caught.value)


def test_the_client_refuses_certificates_with_tls_turned_off(pki: PKI) -> None:
    with pytest.raises(ConfigurationError, match="tls=False"):
        Client("127.0.0.1:50051", root_certificates=pki.ca, tls=False)


def test_the_client_sends_a_token_over_loopback_plaintext(serve: Serve) -> None:
    running = serve(token=TOKEN)
    with running.connect(token=TOKEN) as client:
        assert client.email_otp.start("applicant-1", "ana@example.com").sends == 1


def test_the_client_sends_a_token_over_tls(serve: Serve, pki: PKI) -> None:
    running = serve(token=TOKEN, tls_cert=pki.server_cert, tls_key=pki.server_key)
    with running.connect(token=TOKEN, root_certificates=pki.ca) as client:
        assert client.email_otp.start("applicant-1", "ana@example.com").sends == 1


def test_the_command_refuses_a_password_in_its_arguments_without_repeating_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An unusable address too: were the password let through, the command would still stop at once.
    status = main(["serve", "--listen", "nowhere", "--mailer", f"smtp://u:{PASSWORD}@127.0.0.1:2525"])
    err = capsys.readouterr().err
    assert status == 2
    assert "process lists" in err
    assert PASSWORD not in err


def test_secrets_given_by_variable_and_file_never_reach_the_command_line_or_the_log(
    serve_process: ServeProcess, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    mailer = f"smtp://sender:{PASSWORD}@127.0.0.1:2525"
    process = serve_process(
        env={"VERIFYKIT_MAILER": mailer, "VERIFYKIT_TOKEN_FILE": str(token_file), "VERIFYKIT_AUDIT_LOG": "0"}
    )
    with Client(process.target, token=TOKEN) as client:
        assert client.health() == "SERVING"
    command_line = Path(f"/proc/{process.proc.pid}/cmdline").read_bytes()
    assert b"serve" in command_line  # what `ps` shows of it
    assert PASSWORD.encode() not in command_line
    assert TOKEN.encode() not in command_line
    process.stop()
    log = process.log.read_text()
    assert PASSWORD not in log
    assert TOKEN not in log
