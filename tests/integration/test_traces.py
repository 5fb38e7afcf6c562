"""Visitors leave no trace: no client address or user agent in the database or the logs, unless
the admin turns addresses on for the access log (AYNI_LOG_IPS)."""

import logging

import httpx
import pytest
from sqlalchemy import select
from uvicorn.logging import AccessFormatter

from ayni.access_log import AccessLog
from models import db
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.integration.test_web_posting import ask, post
from tests.web import PASSWORD, set_password, sign_in

BASE = "http://127.0.0.1:8101"
ADDRESS = "127.0.0.77"
AGENT = "TraceFinder/7.7 (a-user-agent-nobody-else-sends)"


async def everything_stored(instance: Instance) -> str:
    """Every row of every table, as text."""
    rows = []
    async with instance.runtime.sessions() as session:
        for table in db.metadata.sorted_tables:
            rows += [repr(tuple(row)) for row in await session.execute(select(table))]
    return "\n".join(rows)


async def test_a_sign_in_a_post_and_a_delivery_leave_no_address_or_user_agent(
    net: Net, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an instance, a member and a peer, and every logger recording at DEBUG
    instance = await net.instance(BASE)
    peer = net.peer("http://127.0.0.1:8201")
    await set_password(instance)
    caplog.set_level(logging.DEBUG)
    visitor = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=instance.app, client=(ADDRESS, 40077)),
        base_url=BASE,
        headers={"User-Agent": AGENT},
    )

    # When someone from 127.0.0.77 fails to sign in, signs in, posts an ask, and a peer's
    # signed Follow arrives from the same address
    async with visitor:
        assert (await sign_in(visitor, "ana", "wrong password")).status_code == 400
        assert (await sign_in(visitor, "ana", PASSWORD)).status_code == 303
        assert (await post(visitor, ask())).status_code == 303
        body, headers = peer.signed(f"{BASE}/inbox", peer.follow(f"{BASE}/actors/food"))
        delivered = await visitor.post(
            "/inbox", content=body, headers={**headers, "User-Agent": AGENT}
        )
        assert delivered.status_code == 202
    await settle(instance)

    # Then neither the address nor the user agent is in any table or any log line
    stored = await everything_stored(instance)
    assert "Nappies, size 4" in stored and peer.actor_uri in stored  # the dump holds the work
    assert ADDRESS not in stored and AGENT not in stored
    assert caplog.records
    assert ADDRESS not in caplog.text and AGENT not in caplog.text


def access_record(path: str = "/items/abc", client: str = f"{ADDRESS}:40077") -> logging.LogRecord:
    """An access-log record as uvicorn makes it."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (client, "GET", path, "1.1", 200),
        None,
    )


def written(record: logging.LogRecord, log_ips: bool, formatter: logging.Formatter) -> str | None:
    return formatter.format(record) if AccessLog(log_ips).filter(record) else None


@pytest.mark.parametrize(
    "formatter",
    [
        AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False),
        logging.Formatter("%(message)s"),
    ],
)
def test_the_access_log_names_no_client_unless_the_admin_turns_addresses_on(
    formatter: logging.Formatter,
) -> None:
    hidden = written(access_record(), False, formatter)
    shown = written(access_record(), True, formatter)

    assert hidden is not None and shown is not None
    assert hidden.startswith('- - "GET /items/abc HTTP/1.1" 200') and ADDRESS not in hidden
    assert shown.startswith(f'{ADDRESS}:40077 - "GET /items/abc HTTP/1.1" 200')


@pytest.mark.parametrize("client", ["203.0.113.9", "[2001:db8::7]:443", "2001:db8::7:443", "::1"])
def test_every_form_of_an_address_is_hidden(client: str) -> None:
    line = written(access_record(client=client), False, logging.Formatter("%(message)s"))
    assert line == '- - "GET /items/abc HTTP/1.1" 200'


@pytest.mark.parametrize("log_ips", [False, True])
def test_a_meeting_point_link_never_reaches_the_access_log(log_ips: bool) -> None:
    assert not AccessLog(log_ips).filter(access_record("/calls/3/where/secret-token"))
