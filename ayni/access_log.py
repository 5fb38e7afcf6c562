"""What uvicorn's logs say about a request: never who sent it, unless the admin asks.

The access log stays on: at 6 a.m. an admin chasing a 500 or a peer's failing deliveries needs
the method, the path and the status, and none of those says who is visiting. The client's
address is what would: paired with a path it says who read which ask, and a log is copied,
rotated and kept far longer than anything in the database. So the address becomes "-" unless
`AYNI_LOG_IPS=true` (for an admin fighting abuse, for as long as she needs it), and a request
for a meeting-point link (`/calls/<id>/where/<token>`) is left out whatever the setting: its
token is in the path.

One filter, on the access log and on uvicorn's own logger (which names the client of a refused
WebSocket, though `ayni serve` turns WebSockets off).
"""

import logging
import re

from federation import addresses

LOGGERS = ("uvicorn.access", "uvicorn.error")
SECRET_PATHS = re.compile(r"/calls/[^/\s]+/where/")
HIDDEN = "-"


class AccessLog(logging.Filter):
    def __init__(self, log_ips: bool = False) -> None:
        super().__init__()
        self.log_ips = log_ips

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        texts = [str(record.msg), *(arg for arg in args if isinstance(arg, str))]
        if any(SECRET_PATHS.search(text) for text in texts):
            return False
        if not self.log_ips and args:
            record.args = tuple(HIDDEN if _is_address(arg) else arg for arg in args)
        return True


def _is_address(value: object) -> bool:
    """uvicorn writes a client as "host:port" (IPv6 as "[host]:port"), or the bare host."""
    if not isinstance(value, str):
        return False
    host, _, port = value.rpartition(":")
    return addresses.parse_address(value) is not None or (
        port.isdigit() and addresses.parse_address(host) is not None
    )


def install(log_ips: bool) -> None:
    """The one AccessLog on uvicorn's loggers, set to `log_ips` (the last app built wins)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, AccessLog)]:
            logger.removeFilter(old)
        logger.addFilter(AccessLog(log_ips))
