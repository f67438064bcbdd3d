"""Configuration: flags over VERIFYKIT_* variables over the TOML file over defaults, and clear
errors for settings that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifykit import ConfigurationError
from verifykit.server import OPTIONS, ServerConfig, create_server, load_config


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
        ({"VERIFYKIT_WORKERS": "4", "VERIFYKIT_HEAVY_WORKERS": "2"}, "fewer than workers"),
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
    with pytest.raises(ConfigurationError, match="VERIFYKIT_KEYS"):
        create_server(ServerConfig(listen="127.0.0.1:0", store="redis://127.0.0.1:6379/0"))


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
