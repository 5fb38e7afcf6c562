"""The one exception tree for everything that crosses the network.

    FederationError
    ├── SignatureError      a request's signature is missing, malformed or not valid
    ├── InvalidDocument     a remote document or activity has the wrong shape
    └── FetchError          a remote document could not be had
        ├── Refused         we will not fetch it: scheme, private address, too large,
        │                   too many redirects, wrong content type, id on another origin
        ├── Unavailable     the server did not answer well: timeouts, connection errors, 5xx
        ├── NotFound        404
        └── Gone            410: the document existed and was deleted

Errors become HTTP statuses only at the edge (the inbox route, the CLI).
"""


class FederationError(Exception):
    """Base class of every error raised by `federation`."""


class SignatureError(FederationError):
    """The request is not signed, or not signed well enough to trust."""


class InvalidDocument(FederationError):
    """A remote document or activity is malformed."""


class FetchError(FederationError):
    """A remote document could not be fetched."""

    def __init__(self, message: str, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class Refused(FetchError):
    """We refuse to fetch this URL or to accept what it returned."""


class TooLarge(Refused):
    """The response body was over the size cap; the transfer was aborted."""


class Unavailable(FetchError):
    """Transport failure, timeout or a server error; may work later."""


class NotFound(FetchError):
    """The server answered 404."""


class Gone(FetchError):
    """The server answered 410: the document was deleted."""
