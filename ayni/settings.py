"""Settings, read once from the environment (and an optional `ayni.toml`) into a frozen
`models.settings.Settings`.

The environment wins over the file. Every problem names the setting at fault.
"""

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from federation import addresses
from models.settings import DEFAULT_DATABASE_URL, DEFAULT_TRUSTED_PROXIES, Network, Settings

DEFAULT_CONFIG = "ayni.toml"


class SettingsError(ValueError):
    pass


def parse_networks(name: str, text: str) -> tuple[Network, ...]:
    try:
        return addresses.parse_networks(text)
    except ValueError as e:
        raise SettingsError(f"{name}: {e}") from None


def parse_bool(name: str, text: str) -> bool:
    # TOML booleans arrive here as "True"/"False".
    value = text.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0", ""):
        return False
    raise SettingsError(f"{name}: {text!r} is not a boolean; use true, false, 1 or 0")


def check_base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"AYNI_BASE_URL: {value!r} is not an http(s) origin such as https://aid.example.org"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise SettingsError(
            f"AYNI_BASE_URL: {value!r} must be an origin, without path, query or user"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise SettingsError(
            f"AYNI_BASE_URL: {value!r} uses http; only loopback development origins may (use https)"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _is_loopback(hostname: str) -> bool:
    address = addresses.parse_address(hostname)
    return hostname == "localhost" or (address is not None and address.is_loopback)


def check_database_url(value: str) -> str:
    try:
        backend = make_url(value).drivername
    except ArgumentError:
        raise SettingsError(f"AYNI_DATABASE_URL: {value!r} is not a database URL") from None
    if backend not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise SettingsError(
            f"AYNI_DATABASE_URL: {backend!r} is not supported; "
            "use sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    return value


def check_smtp_url(value: str) -> str:
    if not value:
        return ""
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018  a port that is not a number raises here
    except ValueError:
        raise SettingsError(
            f"AYNI_SMTP_URL: the port of {_without_password(value)!r} is not a number"
        ) from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise SettingsError(
            f"AYNI_SMTP_URL: {_without_password(value)!r} is not an SMTP URL such as "
            "smtp://user:password@mail.example.org:587 or smtps://…:465"
        )
    return value


def _without_password(value: str) -> str:
    parts = urlsplit(value)
    if parts.password is None:
        return value
    return value.replace(f":{parts.password}@", ":***@", 1)


def check_mail_from(value: str) -> str:
    if not value:
        return ""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as e:
        raise SettingsError(f"AYNI_MAIL_FROM: {value!r} is not an e-mail address: {e}") from None
    return value


LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def check_log_format(value: str) -> str:
    value = value.strip().lower()
    if value not in LOG_FORMATS:
        raise SettingsError(f"AYNI_LOG_FORMAT: {value!r} is not one of {', '.join(LOG_FORMATS)}")
    return value


def check_log_level(value: str) -> str:
    value = value.strip().lower()
    if value and value not in LOG_LEVELS:
        raise SettingsError(f"AYNI_LOG_LEVEL: {value!r} is not one of {', '.join(LOG_LEVELS)}")
    return value


def check_metrics_token(value: str) -> str:
    value = value.strip()
    if value and len(value) < 16:
        raise SettingsError(
            "AYNI_METRICS_TOKEN: use at least 16 characters (e.g. `openssl rand -hex 32`)"
        )
    return value


def config_path(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("AYNI_CONFIG", DEFAULT_CONFIG))


def read_config_file(path: Path) -> dict[str, str]:
    """The file uses the same names as the environment, lowercase and without the prefix."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"AYNI_CONFIG: {path} is not valid TOML: {e}") from None
    return {f"AYNI_{key.upper()}": str(value) for key, value in data.items()}


def values_of(environ: Mapping[str, str]) -> dict[str, str]:
    """Every setting's text: the environment over the file."""
    return {**read_config_file(config_path(environ)), **environ}


def logging_of(values: Mapping[str, str]) -> tuple[str, str]:
    """`AYNI_LOG_FORMAT` and `AYNI_LOG_LEVEL` alone: the CLI sets up its logs from them before
    it knows whether the rest is valid (`init` has no base URL yet)."""
    return (
        check_log_format(values.get("AYNI_LOG_FORMAT", "text")),
        check_log_level(values.get("AYNI_LOG_LEVEL", "")),
    )


def load(environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    values = values_of(environ)
    log_format, log_level = logging_of(values)
    base_url = values.get("AYNI_BASE_URL")
    if not base_url:
        raise SettingsError("AYNI_BASE_URL is not set: run `ayni init --base-url URL` or set it")
    return Settings(
        base_url=check_base_url(base_url),
        database_url=check_database_url(values.get("AYNI_DATABASE_URL", DEFAULT_DATABASE_URL)),
        secret_key=values.get("AYNI_SECRET_KEY", ""),
        allow_private_addresses=parse_networks(
            "AYNI_ALLOW_PRIVATE_ADDRESSES", values.get("AYNI_ALLOW_PRIVATE_ADDRESSES", "")
        ),
        trusted_proxies=parse_networks(
            "AYNI_TRUSTED_PROXIES", values.get("AYNI_TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES)
        ),
        authorized_fetch=parse_bool(
            "AYNI_AUTHORIZED_FETCH", values.get("AYNI_AUTHORIZED_FETCH", "false")
        ),
        log_ips=parse_bool("AYNI_LOG_IPS", values.get("AYNI_LOG_IPS", "false")),
        smtp_url=check_smtp_url(values.get("AYNI_SMTP_URL", "").strip()),
        mail_from=check_mail_from(values.get("AYNI_MAIL_FROM", "").strip()),
        log_format=log_format,
        log_level=log_level,
        metrics_token=check_metrics_token(values.get("AYNI_METRICS_TOKEN", "")),
    )


def write_config_file(path: Path, values: Mapping[str, str]) -> None:
    """Written with 0600 permissions: it holds the secret key."""
    lines = [f"{key} = {_toml_string(value)}" for key, value in values.items()]
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)  # also a file that was there before
    path.write_text("\n".join(lines) + "\n")


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
