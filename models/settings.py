"""What one instance is configured with: a frozen value, built by `ayni.settings.load` from the
environment and `ayni.toml` (or by tests directly), and held by the `Runtime`."""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from federation import addresses

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./ayni.db"
Network = addresses.IPNetwork
# A proxy on the same host (nginx, Caddy) is the common case; behind anything else, name it.
DEFAULT_TRUSTED_PROXIES = "127.0.0.0/8, ::1"


@dataclass(frozen=True)
class Settings:
    base_url: str
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str = ""
    allow_private_addresses: tuple[Network, ...] = field(default=())
    # Require signed GETs for actors' full documents, objects and collections (Mastodon's
    # "secure mode"): a blocked server can then no longer read public items anonymously.
    authorized_fetch: bool = False
    # Whose X-Forwarded-For (and -Proto) is believed: the proxies in front of us, nobody else.
    trusted_proxies: tuple[Network, ...] = field(
        default_factory=lambda: addresses.parse_networks(DEFAULT_TRUSTED_PROXIES)
    )
    # Client addresses in the access log (`ayni.access_log`); off, no log line names a visitor.
    log_ips: bool = False
    # Seconds one fetch from another server may take, redirects included. Not read from the
    # environment: tests shorten it so that a server that never answers costs them a second.
    fetch_deadline: float = 30.0
    # Outgoing e-mail: `smtp://user:pass@host:port` (STARTTLS whenever the server offers it) or
    # `smtps://…` (TLS from the start), and the From address. Either empty: e-mail is off.
    smtp_url: str = ""
    mail_from: str = ""
    # How log lines are written (`ayni.logs`): "text" for people, "json" (one object a line) for a
    # log collector; and the lowest level written ("" : INFO for serve and worker, WARNING for
    # the admin commands, which print their own results).
    log_format: str = "text"
    log_level: str = ""
    # The bearer token of `/metrics`; empty, there is no `/metrics` (404).
    metrics_token: str = ""

    @property
    def host(self) -> str:
        """The host part of handles, `name@host`: includes a non-default port."""
        return urlsplit(self.base_url).netloc

    @property
    def mail_enabled(self) -> bool:
        return bool(self.smtp_url and self.mail_from)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
