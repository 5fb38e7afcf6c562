"""Settings are validated at start, with errors that name the setting at fault."""

import ipaddress
from pathlib import Path

import pytest

from ayni import settings
from ayni.settings import SettingsError


def test_defaults_to_embedded_sqlite(clean_environ: Path) -> None:
    loaded = settings.load({"AYNI_BASE_URL": "https://aid.example.org"})

    assert loaded.database_url == "sqlite+aiosqlite:///./ayni.db"
    assert loaded.host == "aid.example.org"
    assert loaded.allow_private_addresses == ()


def test_missing_base_url_names_the_setting(clean_environ: Path) -> None:
    with pytest.raises(SettingsError, match="AYNI_BASE_URL"):
        settings.load({})


@pytest.mark.parametrize(
    "url",
    [
        "http://aid.example.org",
        "ftp://x.org",
        "https://x.org/path",
        "not a url",
        "https://user@x.org",
    ],
)
def test_bad_base_urls_are_refused(clean_environ: Path, url: str) -> None:
    with pytest.raises(SettingsError, match="AYNI_BASE_URL"):
        settings.load({"AYNI_BASE_URL": url})


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"]
)
def test_http_is_allowed_for_loopback_development(clean_environ: Path, url: str) -> None:
    assert settings.load({"AYNI_BASE_URL": url}).base_url == url


def test_unsupported_database_is_refused(clean_environ: Path) -> None:
    with pytest.raises(SettingsError, match="AYNI_DATABASE_URL"):
        settings.load({"AYNI_BASE_URL": "https://a.org", "AYNI_DATABASE_URL": "mysql://x/y"})


def test_private_addresses_parse_ips_and_cidrs(clean_environ: Path) -> None:
    loaded = settings.load(
        {"AYNI_BASE_URL": "https://a.org", "AYNI_ALLOW_PRIVATE_ADDRESSES": "127.0.0.1, 10.0.0.0/8"}
    )

    assert loaded.allow_private_addresses == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
    )


def test_bad_private_address_names_the_setting(clean_environ: Path) -> None:
    with pytest.raises(SettingsError, match="AYNI_ALLOW_PRIVATE_ADDRESSES.*'nope'"):
        settings.load(
            {"AYNI_BASE_URL": "https://a.org", "AYNI_ALLOW_PRIVATE_ADDRESSES": "127.0.0.1,nope"}
        )


def test_config_file_is_read_and_environment_wins(clean_environ: Path) -> None:
    path = clean_environ / "custom.toml"
    settings.write_config_file(path, {"base_url": "https://file.example", "secret_key": "s3cret"})

    from_file = settings.load({"AYNI_CONFIG": str(path)})
    overridden = settings.load({"AYNI_CONFIG": str(path), "AYNI_BASE_URL": "https://env.example"})

    assert from_file.base_url == "https://file.example"
    assert from_file.secret_key == "s3cret"
    assert overridden.base_url == "https://env.example"
    assert path.stat().st_mode & 0o077 == 0


def test_settings_are_frozen(clean_environ: Path) -> None:
    loaded = settings.load({"AYNI_BASE_URL": "https://a.org"})

    with pytest.raises(AttributeError):
        loaded.base_url = "https://b.org"  # type: ignore[misc]


def test_authorized_fetch_is_off_by_default(clean_environ: Path) -> None:
    assert settings.load({"AYNI_BASE_URL": "https://a.org"}).authorized_fetch is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("1", True), ("TRUE", True), ("false", False), ("0", False)],
)
def test_authorized_fetch_reads_booleans(clean_environ: Path, text: str, expected: bool) -> None:
    loaded = settings.load({"AYNI_BASE_URL": "https://a.org", "AYNI_AUTHORIZED_FETCH": text})

    assert loaded.authorized_fetch is expected


def test_a_bad_authorized_fetch_value_names_the_setting(clean_environ: Path) -> None:
    with pytest.raises(SettingsError, match="AYNI_AUTHORIZED_FETCH"):
        settings.load({"AYNI_BASE_URL": "https://a.org", "AYNI_AUTHORIZED_FETCH": "yes please"})


def test_authorized_fetch_can_be_a_toml_boolean_in_the_config_file(clean_environ: Path) -> None:
    (clean_environ / "ayni.toml").write_text(
        'base_url = "https://a.org"\nauthorized_fetch = true\n'
    )

    assert settings.load({}).authorized_fetch is True


def test_client_addresses_stay_out_of_the_logs_unless_the_admin_asks(clean_environ: Path) -> None:
    assert settings.load({"AYNI_BASE_URL": "https://a.org"}).log_ips is False
    assert settings.load({"AYNI_BASE_URL": "https://a.org", "AYNI_LOG_IPS": "true"}).log_ips
    with pytest.raises(settings.SettingsError, match="AYNI_LOG_IPS"):
        settings.load({"AYNI_BASE_URL": "https://a.org", "AYNI_LOG_IPS": "sometimes"})


def test_mail_is_off_unless_both_settings_are_given(clean_environ: Path) -> None:
    base = {"AYNI_BASE_URL": "https://aid.example.org"}
    assert not settings.load(base).mail_enabled
    assert not settings.load({**base, "AYNI_SMTP_URL": "smtp://mail.example.org"}).mail_enabled
    loaded = settings.load(
        {**base, "AYNI_SMTP_URL": "smtps://u:p@mail.example.org:465", "AYNI_MAIL_FROM": "a@b.org"}
    )
    assert loaded.mail_enabled and loaded.smtp_url == "smtps://u:p@mail.example.org:465"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AYNI_SMTP_URL", "http://mail.example.org"),
        ("AYNI_SMTP_URL", "smtp://u:s3cret@mail.example.org:port"),
        ("AYNI_SMTP_URL", "smtp://"),
        ("AYNI_MAIL_FROM", "not an address"),
    ],
)
def test_bad_mail_settings_are_refused_without_the_password(
    clean_environ: Path, name: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=name) as refused:
        settings.load({"AYNI_BASE_URL": "https://aid.example.org", name: value})
    assert "s3cret" not in str(refused.value)


def test_logging_and_metrics_settings_come_from_the_environment_or_the_file(
    clean_environ: Path,
) -> None:
    config = clean_environ / "elsewhere.toml"
    config.write_text('log_format = "json"\nmetrics_token = "from-the-file-0123456789"\n')
    base = {"AYNI_BASE_URL": "https://a.org", "AYNI_CONFIG": str(config)}

    from_file = settings.load(base)
    from_env = settings.load(base | {"AYNI_LOG_FORMAT": "Text", "AYNI_LOG_LEVEL": "DEBUG"})
    defaults = settings.load({"AYNI_BASE_URL": "https://a.org"})

    assert (from_file.log_format, from_file.metrics_token) == ("json", "from-the-file-0123456789")
    assert (from_env.log_format, from_env.log_level) == ("text", "debug")
    assert (defaults.log_format, defaults.log_level, defaults.metrics_token) == ("text", "", "")


@pytest.mark.parametrize(
    ("name", "value"),
    [("AYNI_LOG_FORMAT", "xml"), ("AYNI_LOG_LEVEL", "verbose"), ("AYNI_METRICS_TOKEN", "1234")],
)
def test_bad_logging_and_metrics_settings_name_the_setting(
    clean_environ: Path, name: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=name):
        settings.load({"AYNI_BASE_URL": "https://a.org", name: value})
