"""Configuration: flags over VERIFYKIT_* variables over the TOML file over defaults, and clear
errors for settings that cannot work."""

from __future__ import annotations

import argparse
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from verifykit import ConfigurationError, Keyring
from verifykit.cli import build_parser, main
from verifykit.otp import OTPSettings
from verifykit.server import OPTIONS, ServerConfig, create_server, load_config
from verifykit.server._config import Option

SMTP = "smtp://smtp.example.org:587"
TOKEN = "s3cret-token-for-tests-0123456789"
PASSWORD = "pw-Zq8vX1-never-shown"


def test_the_defaults_run_with_no_set_up() -> None:
    config = load_config({}, environ={})
    assert (config.listen, config.store, config.mailer) == ("127.0.0.1:50051", "memory://", "console")
    assert config.max_message_bytes == 16 * 1024 * 1024
    assert config.metrics_port is None


def test_flags_win_over_variables_which_win_over_the_file(tmp_path: Path) -> None:
    file = tmp_path / "verifykit.toml"
    file.write_text('listen = "127.0.0.1:7001"\nnamespace = "from-file"\ngrace = 3\nworkers = 40\n')
    environ = {"VERIFYKIT_LISTEN": "127.0.0.1:7002", "VERIFYKIT_NAMESPACE": "from-env"}
    config = load_config({"listen": "127.0.0.1:7003", "namespace": None}, environ=environ, config_file=file)
    assert config.listen == "127.0.0.1:7003"  # flag
    assert config.namespace == "from-env"  # variable (the flag was not given)
    assert (config.grace, config.workers) == (3.0, 40)  # file


def test_the_file_can_be_named_by_a_variable(tmp_path: Path) -> None:
    file = tmp_path / "sidecar.toml"
    file.write_text("access_log = false\n")
    assert load_config({}, environ={"VERIFYKIT_CONFIG": str(file)}).access_log is False


def test_variables_are_converted_to_the_option_type() -> None:
    environ = {"VERIFYKIT_METRICS_PORT": "9464", "VERIFYKIT_ACCESS_LOG": "off", "VERIFYKIT_GRACE": "2.5"}
    config = load_config({}, environ=environ)
    assert (config.metrics_port, config.access_log, config.grace) == (9464, False, 2.5)


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        ({"VERIFYKIT_METRICS_PORT": "ninety"}, "VERIFYKIT_METRICS_PORT"),
        ({"VERIFYKIT_ACCESS_LOG": "maybe"}, "true or false"),
        ({"VERIFYKIT_LISTEN": "nowhere"}, "HOST:PORT"),
        ({"VERIFYKIT_TLS_CERT": "/a.pem"}, "both tls_cert and tls_key"),
        ({"VERIFYKIT_TOKEN": "short"}, "at least 16"),
        ({"VERIFYKIT_HEAVY_QUEUE": "-1"}, "heavy_queue"),
        ({"VERIFYKIT_FACE_WORKERS": "fork"}, "thread or process"),
        ({"VERIFYKIT_MAX_MESSAGE_BYTES": "10"}, "max_message_bytes"),
    ],
)
def test_settings_that_cannot_work_are_refused_with_the_reason(
    environ: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        load_config({}, environ=environ)


def test_an_unknown_key_in_the_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "verifykit.toml"
    file.write_text('lisen = "127.0.0.1:1"\n')
    with pytest.raises(ConfigurationError, match="lisen"):
        load_config({}, environ={}, config_file=file)


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "verifykit.toml"
    file.write_text("listen = \n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_config({}, environ={}, config_file=file)


def test_every_option_has_a_flag_a_variable_and_help() -> None:
    names = {o.name for o in OPTIONS}
    assert names == set(ServerConfig.__dataclass_fields__)
    for option in OPTIONS:
        assert option.flag == "--" + option.name.replace("_", "-")
        assert option.env == "VERIFYKIT_" + option.name.upper()
        assert option.help


def test_a_shared_store_without_shared_keys_is_refused() -> None:
    config = ServerConfig(listen="127.0.0.1:0", store="redis://127.0.0.1:6379/0", mailer=SMTP)
    with pytest.raises(ConfigurationError, match="VERIFYKIT_KEYS"):
        create_server(config)


def test_a_port_already_taken_is_refused() -> None:
    first, port = create_server(ServerConfig(listen="127.0.0.1:0", audit_log=False))
    try:
        with pytest.raises(ConfigurationError, match="cannot listen"):
            create_server(ServerConfig(listen=f"127.0.0.1:{port}", audit_log=False))
    finally:
        first.stop(0)


def test_the_sidecar_page_documents_every_option() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "sidecar.md").read_text(encoding="utf-8")
    for option in OPTIONS:
        assert f"| `{option.name}` | `{option.flag}`" in page, option.name
        assert f"`{option.env}`" in page, option.env


# -- the store URL: checked whole at start ------------------------------------------------------


@pytest.mark.parametrize(
    ("store", "complaint"),
    [
        ("redis://127.0.0.1:6379/abc", "database number"),
        ("redis://127.0.0.1:65536/0", "port must be a number from 1 to 65535"),
        ("redis://127.0.0.1:6379/0?colour=blue", "unknown store option.* colour"),
        ("redis+cluster://127.0.0.1:7000/2", "only database 0"),
        ("memory://?socket_timeout=1", "memory:// takes no"),
        (f"redis://:{PASSWORD}@127.0.0.1:6379/abc", "database number"),
    ],
)
def test_a_store_url_that_cannot_work_stops_the_sidecar_before_it_starts(store: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^store: .*{complaint}") as refusal:
        load_config({}, environ={"VERIFYKIT_STORE": store})
    assert PASSWORD not in str(refusal.value)


# -- plaintext only on loopback ----------------------------------------------------------------


@pytest.mark.parametrize(
    "listen", ["0.0.0.0:50051", "[::]:50051", "10.1.2.3:50051", "sidecar.internal:50051"]
)
def test_plaintext_beyond_loopback_is_refused(listen: str) -> None:
    with pytest.raises(ConfigurationError, match="without TLS"):
        ServerConfig(listen=listen)


@pytest.mark.parametrize("listen", ["127.0.0.1:50051", "127.9.8.7:50051", "localhost:50051", "[::1]:50051"])
def test_plaintext_on_loopback_needs_no_switch(listen: str) -> None:
    assert ServerConfig(listen=listen).risks("console") == []


def test_tls_may_listen_on_any_address(tmp_path: Path) -> None:
    config = ServerConfig(listen="0.0.0.0:50051", tls_cert=tmp_path / "c.pem", tls_key=tmp_path / "k.pem")
    assert config.risks("console") == []


def test_the_insecure_plaintext_switch_allows_it_and_names_the_risk() -> None:
    config = load_config({"listen": "0.0.0.0:50051", "insecure_plaintext": True}, environ={})
    assert [risk.split(":")[0] for risk in config.risks("console")] == ["insecure_plaintext"]


@pytest.mark.parametrize("token", [{"token": TOKEN}, {"token_file": Path("/run/secrets/token")}])
def test_a_token_over_plaintext_beyond_loopback_is_refused_even_with_the_switch(
    token: dict[str, Any],
) -> None:
    with pytest.raises(ConfigurationError, match="clear text"):
        ServerConfig(listen="0.0.0.0:50051", insecure_plaintext=True, **token)


def test_a_token_over_tls_may_listen_on_any_address(tmp_path: Path) -> None:
    config = ServerConfig(
        listen="0.0.0.0:50051", tls_cert=tmp_path / "c.pem", tls_key=tmp_path / "k.pem", token=TOKEN
    )
    assert (config.host, config.bearer_token()) == ("0.0.0.0", TOKEN)
    assert config.risks("console") == []


# -- the metrics port: plaintext only on loopback too --------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "metrics.internal", ""])
def test_metrics_beyond_loopback_are_refused(host: str) -> None:
    with pytest.raises(ConfigurationError, match="insecure_metrics_plaintext"):
        ServerConfig(metrics_port=9464, metrics_host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.9.8.7", "localhost", "::1", "[::1]"])
def test_metrics_on_loopback_need_no_switch(host: str) -> None:
    assert ServerConfig(metrics_port=9464, metrics_host=host).risks("console") == []


def test_a_metrics_host_beyond_loopback_is_no_risk_while_metrics_are_off() -> None:
    assert ServerConfig(metrics_host="0.0.0.0").risks("console") == []


@pytest.mark.parametrize(
    "grpc_port",
    [
        {"listen": "0.0.0.0:50051", "insecure_plaintext": True},
        {"listen": "0.0.0.0:50051", "tls_cert": Path("c.pem"), "tls_key": Path("k.pem")},
    ],
)
def test_the_grpc_ports_switch_or_tls_do_not_open_the_metrics_port(grpc_port: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="insecure_metrics_plaintext"):
        ServerConfig(metrics_port=9464, metrics_host="0.0.0.0", **grpc_port)


def test_the_metrics_switch_allows_it_and_names_the_risk() -> None:
    flags = {"metrics_port": 9464, "metrics_host": "0.0.0.0", "insecure_metrics_plaintext": True}
    config = load_config(flags, environ={})
    assert [risk.split(":")[0] for risk in config.risks("console")] == ["insecure_metrics_plaintext"]


def test_the_metrics_switch_does_not_open_the_grpc_port() -> None:
    with pytest.raises(ConfigurationError, match="without TLS"):
        ServerConfig(listen="0.0.0.0:50051", insecure_metrics_plaintext=True)


def test_the_sidecar_warns_at_start_when_metrics_leave_loopback(caplog: pytest.LogCaptureFixture) -> None:
    environ = {
        "VERIFYKIT_LISTEN": "127.0.0.1:0",
        "VERIFYKIT_METRICS_PORT": "0",
        "VERIFYKIT_METRICS_HOST": "0.0.0.0",
        "VERIFYKIT_INSECURE_METRICS_PLAINTEXT": "true",
        "VERIFYKIT_AUDIT_LOG": "false",
    }
    config = load_config({}, environ=environ)
    with caplog.at_level(logging.WARNING, logger="verifykit.server"):
        sidecar, _ = create_server(config)  # not started: the metrics port is never bound
    sidecar.stop(0)
    assert any("insecure_metrics_plaintext" in r.getMessage() for r in caplog.records)


# -- mailers that print codes only with the memory store ---------------------------------------


@pytest.mark.parametrize("mailer", ["console", "file:/var/spool/verifykit"])
def test_a_mailer_that_prints_codes_is_refused_with_a_shared_store(mailer: str) -> None:
    config = ServerConfig(store="redis://127.0.0.1:6379/0", mailer=mailer)
    with pytest.raises(ConfigurationError, match="insecure_dev_mailer"):
        config.mailer_url()


def test_a_mailer_that_prints_codes_is_refused_before_the_store_is_opened() -> None:
    keys = Keyring.new_keyring_string()
    config = ServerConfig(listen="127.0.0.1:0", store="redis://127.0.0.1:1/0", keys=keys)
    with pytest.raises(ConfigurationError, match="insecure_dev_mailer"):
        create_server(config)


def test_a_mailer_file_cannot_bring_a_printing_mailer_past_the_rule(tmp_path: Path) -> None:
    (tmp_path / "mailer").write_text("console\n")
    config = ServerConfig(store="redis://127.0.0.1:6379/0", mailer_file=tmp_path / "mailer")
    with pytest.raises(ConfigurationError, match="insecure_dev_mailer"):
        config.mailer_url()


@pytest.mark.parametrize(("store", "mailer"), [("memory://", "console"), ("redis://127.0.0.1:6379/0", SMTP)])
def test_printing_mailers_with_the_memory_store_and_smtp_with_any_store_need_no_switch(
    store: str, mailer: str
) -> None:
    config = ServerConfig(store=store, mailer=mailer)
    assert config.risks(config.mailer_url()) == []


def test_the_development_switch_allows_a_printing_mailer_and_names_the_risk() -> None:
    environ = {"VERIFYKIT_STORE": "redis://127.0.0.1:6379/0", "VERIFYKIT_INSECURE_DEV_MAILER": "true"}
    config = load_config({}, environ=environ)
    assert config.mailer_url() == "console"
    assert [risk.split(":")[0] for risk in config.risks("console")] == ["insecure_dev_mailer"]


def test_the_sidecar_warns_at_start_when_a_development_switch_is_used(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = ServerConfig(
        listen="127.0.0.1:0",
        store="redis://127.0.0.1:6379/0",
        namespace=f"warn-{uuid.uuid4().hex}",
        keys=Keyring.new_keyring_string(),
        insecure_dev_mailer=True,
        audit_log=False,
    )
    with caplog.at_level(logging.WARNING, logger="verifykit.server"):
        sidecar, _ = create_server(config)
    sidecar.stop(0)
    assert any("insecure_dev_mailer" in r.getMessage() for r in caplog.records)


# -- secrets: never on the command line, never shown --------------------------------------------


@pytest.mark.parametrize(
    ("flags", "secret"),
    [
        ({"token": TOKEN}, TOKEN),
        ({"keys": "k1:" + PASSWORD}, PASSWORD),
        ({"mailer": f"smtp://sender:{PASSWORD}@smtp.example.org:587"}, PASSWORD),
        ({"store": f"redis://:{PASSWORD}@127.0.0.1:6379/0"}, PASSWORD),
        ({"store": f"redis://127.0.0.1:6379/0?password={PASSWORD}"}, PASSWORD),
    ],
)
def test_a_secret_given_as_a_flag_is_refused_without_repeating_it(flags: dict[str, str], secret: str) -> None:
    with pytest.raises(ConfigurationError, match="process lists") as caught:
        load_config(flags, environ={})
    assert secret not in str(caught.value)


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.secret], ids=lambda o: o.name)
def test_a_flag_that_is_always_refused_is_not_offered_in_help(
    option: Option, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    offered = capsys.readouterr().out
    assert done.value.code == 0 and "--token-file" in offered
    assert f"{option.flag} " not in offered and f"{option.flag}\n" not in offered


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.secret], ids=lambda o: o.name)
def test_a_flag_left_out_of_help_is_still_refused_by_name(
    option: Option, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["serve", option.flag, "k1:" + PASSWORD])
    complaint = capsys.readouterr().err
    assert status == 2
    assert f"{option.flag} is not accepted: process lists would show its value" in complaint
    assert PASSWORD not in complaint


def test_urls_without_a_password_are_fine_as_flags() -> None:
    flags = {"mailer": "smtp://smtp.example.org:587", "store": "redis://127.0.0.1:6379/0"}
    config = load_config(flags | {"keys": None}, environ={"VERIFYKIT_KEYS": "unused"})
    assert (config.mailer, config.store) == (flags["mailer"], flags["store"])


def test_secrets_are_taken_from_variables() -> None:
    mailer = f"smtp://sender:{PASSWORD}@smtp.example.org:587"
    config = load_config({}, environ={"VERIFYKIT_TOKEN": TOKEN, "VERIFYKIT_MAILER": mailer})
    assert (config.bearer_token(), config.mailer_url()) == (TOKEN, mailer)


def test_secrets_are_taken_from_their_files(tmp_path: Path) -> None:
    mailer = f"smtp://sender:{PASSWORD}@smtp.example.org:587"
    keys = Keyring.new_keyring_string()
    for name, value in (("token", TOKEN), ("mailer", mailer), ("keys", keys)):
        (tmp_path / name).write_text(value + "\n")
    flags = {f"{name}_file": str(tmp_path / name) for name in ("token", "mailer", "keys")}
    config = load_config(flags, environ={})
    assert (config.bearer_token(), config.mailer_url(), config.keyring_string()) == (TOKEN, mailer, keys)


def test_a_value_and_its_file_twin_are_one_setting_ruled_by_precedence(tmp_path: Path) -> None:
    (tmp_path / "mailer").write_text(SMTP)
    file = tmp_path / "verifykit.toml"
    file.write_text('mailer = "console"\n')
    config = load_config({}, environ={"VERIFYKIT_MAILER_FILE": str(tmp_path / "mailer")}, config_file=file)
    assert config.mailer_url() == SMTP  # the variable's file, over the TOML file's value


def test_a_value_and_its_file_twin_in_one_source_are_refused(tmp_path: Path) -> None:
    environ = {"VERIFYKIT_TOKEN": TOKEN, "VERIFYKIT_TOKEN_FILE": str(tmp_path / "token")}
    with pytest.raises(ConfigurationError, match="not both"):
        load_config({}, environ=environ)


def test_the_configuration_shows_no_secret() -> None:
    config = ServerConfig(
        token=TOKEN,
        keys="k1:" + PASSWORD,
        mailer=f"smtp://sender:{PASSWORD}@smtp.example.org:587",
        store=f"redis://:{PASSWORD}@127.0.0.1:6379/0?password={PASSWORD}",
    )
    shown = repr(config)
    assert PASSWORD not in shown
    assert TOKEN not in shown
    assert "smtp://sender:***@smtp.example.org:587" in shown


# -- email OTP settings ---------------------------------------------------------------------------


def test_without_otp_options_the_sidecar_uses_the_library_defaults() -> None:
    assert load_config({}, environ={}).otp_settings() == OTPSettings()


def test_otp_options_are_taken_from_flags() -> None:
    flags = {"otp_ttl": "300", "otp_live_sends": "1", "otp_time_zone": "Asia/Jakarta", "otp_locale": "id"}
    settings = load_config(flags, environ={}).otp_settings()
    assert (settings.ttl, settings.live_sends, settings.time_zone) == (300.0, 1, "Asia/Jakarta")
    assert settings.default_locale == "id"


def test_otp_options_are_taken_from_variables() -> None:
    environ = {
        "VERIFYKIT_OTP_TTL": "900",
        "VERIFYKIT_OTP_LIVE_SENDS": "3",
        "VERIFYKIT_OTP_TIME_ZONE": "Asia/Makassar",
        "VERIFYKIT_OTP_MAX_ATTEMPTS": "3",
        "VERIFYKIT_OTP_DIGITS": "8",
    }
    settings = load_config({}, environ=environ).otp_settings()
    assert (settings.ttl, settings.live_sends, settings.time_zone) == (900.0, 3, "Asia/Makassar")
    assert (settings.max_attempts, settings.digits) == (3, 8)


def test_otp_options_are_taken_from_the_file_below_variables_and_flags(tmp_path: Path) -> None:
    file = tmp_path / "verifykit.toml"
    file.write_text('otp_ttl = 450\notp_live_sends = 4\notp_time_zone = "Asia/Jayapura"\notp_digits = 7\n')
    environ = {"VERIFYKIT_OTP_LIVE_SENDS": "3", "VERIFYKIT_OTP_TIME_ZONE": "Asia/Makassar"}
    settings = load_config({"otp_live_sends": "1"}, environ=environ, config_file=file).otp_settings()
    assert settings.live_sends == 1  # flag
    assert settings.time_zone == "Asia/Makassar"  # variable
    assert (settings.ttl, settings.digits) == (450.0, 7)  # file


def test_otp_options_leave_the_other_otp_settings_at_their_defaults() -> None:
    settings = load_config({"otp_live_sends": "1", "service_name": "M-Paspor"}, environ={}).otp_settings()
    assert settings == OTPSettings(live_sends=1, service_name="M-Paspor")


@pytest.mark.parametrize(
    ("option", "value", "library"),
    [
        ("otp_live_sends", "0", {"live_sends": 0}),
        ("otp_live_sends", "6", {"live_sends": 6}),
        ("otp_time_zone", "Mars/Olympus_Mons", {"time_zone": "Mars/Olympus_Mons"}),
        ("otp_ttl", "0", {"ttl": 0}),
        ("otp_ttl", "86401", {"ttl": 86401}),
        ("otp_max_attempts", "21", {"max_attempts": 21}),
        ("otp_digits", "3", {"digits": 3}),
        ("otp_locale", "xx", {"default_locale": "xx"}),
    ],
)
def test_a_bad_otp_option_is_refused_with_its_name_and_the_library_reason(
    option: str, value: str, library: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError) as library_refusal:
        OTPSettings(**library)
    with pytest.raises(ConfigurationError, match=f"^{option}: ") as refusal:
        load_config({}, environ={f"VERIFYKIT_{option.upper()}": value})
    assert str(library_refusal.value) in str(refusal.value)


def test_a_bad_otp_option_in_the_file_is_refused_before_the_server_starts(tmp_path: Path) -> None:
    file = tmp_path / "verifykit.toml"
    file.write_text('otp_time_zone = "Asia/Djakarta"\n')
    with pytest.raises(ConfigurationError, match=r"^otp_time_zone: unknown time zone"):
        load_config({}, environ={}, config_file=file)


def test_a_bad_otp_option_stops_a_sidecar_built_from_a_config_object() -> None:
    with pytest.raises(ConfigurationError, match=r"^otp_live_sends: "):
        ServerConfig(listen="127.0.0.1:0", otp_live_sends=6)


@pytest.mark.parametrize(
    ("toml", "complaint"),
    [("otp_live_sends = true", "must be a number"), ("otp_digits = 6.5", "must be a whole number")],
)
def test_an_otp_option_of_the_wrong_type_is_refused(tmp_path: Path, toml: str, complaint: str) -> None:
    file = tmp_path / "verifykit.toml"
    file.write_text(toml + "\n")
    with pytest.raises(ConfigurationError, match=f"otp_.*{complaint}"):
        load_config({}, environ={}, config_file=file)


# -- help: what every command of the command line says ------------------------------------------


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command line that has a --help of its own: the program, each command, each action."""
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(build_parser()))
# Sphinx markup in a docstring that reaches a terminal: ``literal`` and :role:`target`.
MARKUP = re.compile(r"``|:(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|ref|doc):`")


def test_the_walk_finds_every_command() -> None:
    assert {("serve",), ("audit", "verify"), ("voucher", "sign"), ("officer", "add")} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda path: " ".join(("verifykit", *path)))
def test_help_shows_no_restructuredtext_markup(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    shown = capsys.readouterr().out
    assert done.value.code == 0 and shown.startswith("usage: verifykit")
    assert MARKUP.findall(shown) == []
