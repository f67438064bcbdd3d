"""``verifykit password``: hash, verify, check and calibrate from the command line."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys

import argon2
import pytest
from password_support import GOOD

from verifykit.cli import main
from verifykit.cli._password import parse_size


def run(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(["password", *argv])


def reference_hash(password: str) -> str:
    tool = shutil.which("argon2")
    if tool is None:
        pytest.fail("the reference `argon2` tool is needed: apt-get install argon2 (or make services)")
    done = subprocess.run(
        [tool, "saltysaltysalt", "-id", "-t", "2", "-k", "512"], input=password.encode(),
        capture_output=True, check=True,
    )  # fmt: skip
    return next(line.split()[-1] for line in done.stdout.decode().splitlines() if line.startswith("Encoded"))


def test_hash_reads_stdin_and_prints_a_phc_string(monkeypatch, capsys) -> None:
    assert run(monkeypatch, ["hash", "--preset", "cheap_tests_only"], GOOD + "\n") == 0
    out = capsys.readouterr().out.strip()
    assert argon2.PasswordHasher().verify(out, GOOD)


def test_hash_refuses_a_weak_password_with_the_rule_and_without_echoing_it(monkeypatch, capsys) -> None:
    assert run(monkeypatch, ["hash", "--preset", "cheap_tests_only"], "iloveyou2\n") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "weak_password" in captured.err and "iloveyou2" not in captured.err


def test_verify_exits_0_on_a_match_with_a_reference_tool_hash(monkeypatch, capsys) -> None:
    assert run(monkeypatch, ["verify", reference_hash(GOOD)], GOOD + "\n") == 0
    assert capsys.readouterr().out.startswith("match")


def test_verify_exits_1_on_a_mismatch(monkeypatch, capsys) -> None:
    assert run(monkeypatch, ["verify", reference_hash(GOOD)], "something else\n") == 1
    assert capsys.readouterr().out.strip() == "mismatch"


def test_verify_exits_2_on_a_malformed_hash(monkeypatch, capsys) -> None:
    assert run(monkeypatch, ["verify", "not-a-hash"], GOOD) == 2
    assert "invalid_input" in capsys.readouterr().err


def test_verify_says_when_the_hash_should_be_replaced(monkeypatch, capsys) -> None:
    assert run(monkeypatch, ["verify", reference_hash(GOOD)], GOOD) == 0
    assert "rehash" in capsys.readouterr().out


def test_check_reports_the_failing_rule(monkeypatch, capsys) -> None:
    assert run(monkeypatch, ["check", "--json", "--subject", "mariasilva"], "mariasilva-2024\n") == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["approved"] is False and doc["reason"] == "context" and doc["message"]


def test_check_exits_0_for_an_acceptable_password(monkeypatch, capsys) -> None:
    assert run(monkeypatch, ["check"], GOOD + "\n") == 0
    assert capsys.readouterr().out.strip() == "ok"


def test_calibrate_proposes_parameters_within_the_memory_cap(monkeypatch, capsys) -> None:
    assert run(monkeypatch, ["calibrate", "--target-ms", "5", "--max-memory", "1MiB", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["memory_cost_kib"] <= 1024 and doc["time_cost"] >= 1


def test_the_installed_command_reads_the_password_from_a_pipe() -> None:
    stored = reference_hash(GOOD)
    command = [sys.executable, "-m", "verifykit", "password", "verify", stored]
    assert subprocess.run(command, input=GOOD.encode(), capture_output=True, check=False).returncode == 0
    assert subprocess.run(command, input=b"nope", capture_output=True, check=False).returncode == 1


@pytest.mark.parametrize(
    ("text", "size"), [("256MiB", 256 << 20), ("1GiB", 1 << 30), ("65536KiB", 64 << 20), ("4096", 4096)]
)
def test_sizes_are_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_a_size_without_a_known_unit_is_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_size("12 parsecs")
