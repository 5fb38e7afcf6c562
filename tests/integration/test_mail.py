"""E-mail against a real SMTP server (aiosmtpd on a loopback port): an address set and
confirmed, the queue through an outage and two workers, a permanent refusal, `ayni mail test`."""

import asyncio
import email
import email.policy
import re
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from ayni.cli import main
from models import actors, mail
from models.base import utcnow
from models.queue import MailMessage, MailState
from outbox import mail as sending
from tests.instances import Instance, settings_for, start_instance
from tests.web import PASSWORD, Page, set_password, sign_in

BASE_URL = "http://127.0.0.1:8010"
FROM = "ayni@aid.example.org"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """What the SMTP server received, and what it answers to a recipient."""

    messages: list[EmailMessage] = field(default_factory=list)
    rcpt_answer: str = "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.rcpt_answer.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.rcpt_answer

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"


@contextmanager
def smtp_server(port: int, inbox: Inbox) -> Iterator[Inbox]:
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@asynccontextmanager
async def instance_with_mail(database_url: str, port: int) -> AsyncIterator[Instance]:
    settings = settings_for(
        BASE_URL, database_url, smtp_url=f"smtp://127.0.0.1:{port}", mail_from=FROM
    )
    async with start_instance(BASE_URL, database_url, settings=settings) as instance:
        yield instance


async def set_address(instance: Instance, address: str = "ana@example.org") -> None:
    async with instance.runtime.sessions() as session, session.begin():
        ana = await actors.find_actor(session, "ana")
        assert ana is not None
        await mail.set_address(session, instance.settings, ana, address)


async def queued(instance: Instance) -> list[MailMessage]:
    async with instance.runtime.sessions() as session:
        return list(await session.scalars(select(MailMessage).order_by(MailMessage.id)))


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_type() == f"text/{subtype}"
    return str(part.get_content())


async def test_an_address_set_on_the_account_page_is_confirmed_by_the_link_it_receives(
    database_url: str,
) -> None:
    port = free_port()
    with smtp_server(port, Inbox()) as inbox:
        async with instance_with_mail(database_url, port) as instance:
            await set_password(instance)
            await sign_in(instance.http, "ana", PASSWORD)
            page = Page((await instance.http.get("/my/account")).text)
            answer = await instance.http.post(
                "/my/account/email",
                data={"csrf_token": page.csrf or "", "address": "Ana@Example.ORG"},
            )
            assert answer.status_code == 303
            assert "not confirmed yet" in (await instance.http.get("/my/account")).text

            assert await sending.run_once(instance.runtime) == 1
            assert await sending.run_once(instance.runtime) == 0

            [message] = inbox.messages
            assert message["To"] == "Ana@example.org"
            assert message["From"] == FROM
            assert message["Auto-Submitted"] == "auto-generated"
            assert re.fullmatch(r"<[^@>]+@127\.0\.0\.1>", message["Message-ID"])
            assert message["Date"]
            assert message["List-Unsubscribe"] is None  # a confirmation is not a notification
            text, html = body(message, "plain"), body(message, "html")
            found = re.search(r"http://127\.0\.0\.1:8010/email/confirm/(\S+)", text)
            assert found, text
            assert found.group(0) in html and "<img" not in html

            confirmed = await instance.http.get(f"/email/confirm/{found.group(1)}")
            assert confirmed.status_code == 200
            assert "Address confirmed" in confirmed.text
            again = await instance.http.get(f"/email/confirm/{found.group(1)}")
            assert again.status_code == 404
            assert "confirmed." in (await instance.http.get("/my/account")).text


async def test_a_notification_carries_one_click_unsubscribe_that_works_signed_out(
    database_url: str,
) -> None:
    port = free_port()
    with smtp_server(port, Inbox()) as inbox:
        async with instance_with_mail(database_url, port) as instance:
            await set_address(instance)
            async with instance.runtime.sessions() as session, session.begin():
                row = await session.scalar(select(mail.MemberEmail))
                assert row is not None
                row.confirmed_at = utcnow()
                ana = await actors.find_actor(session, "ana")
                assert ana is not None
                await mail.notify(
                    session, instance.settings, ana, "A response", ["Someone can help."]
                )
            await sending.run_once(instance.runtime)
            notification = inbox.messages[-1]
            assert notification["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            link = notification["List-Unsubscribe"].strip("<>")
            assert link in body(notification, "plain")
            path = link.removeprefix(BASE_URL)

            page = await instance.http.get(path)
            assert page.status_code == 200 and "<form" in page.text
            assert (await instance.http.post(path)).status_code == 200
            async with instance.runtime.sessions() as session, session.begin():
                ana = await actors.find_actor(session, "ana")
                assert ana is not None
                assert await mail.notify(session, instance.settings, ana, "More", ["x"]) is None
            assert (await instance.http.post(path + "x")).status_code == 404


async def test_a_message_queued_while_the_server_is_down_arrives_once_when_it_is_up(
    database_url: str,
) -> None:
    port = free_port()
    async with instance_with_mail(database_url, port) as instance:
        await set_address(instance)
        assert await sending.run_once(instance.runtime) == 0
        [row] = await queued(instance)
        assert row.state == MailState.PENDING and row.attempts == 1
        assert row.last_error and row.next_attempt_at > utcnow() + timedelta(seconds=30)

        with smtp_server(port, Inbox()) as inbox:
            assert await sending.run_once(instance.runtime) == 0  # not due yet
            later = utcnow() + timedelta(hours=1)
            assert await sending.run_once(instance.runtime, now=later) == 1
            assert await sending.run_once(instance.runtime, now=later) == 0
        assert len(inbox.messages) == 1
        [row] = await queued(instance)
        assert row.state == MailState.SENT and row.sent_at is not None


async def test_two_workers_at_once_send_each_message_once(database_url: str) -> None:
    port = free_port()
    with smtp_server(port, Inbox()) as inbox:
        async with instance_with_mail(database_url, port) as instance:
            async with instance.runtime.sessions() as session, session.begin():
                for n in range(6):
                    await mail.enqueue(
                        session,
                        instance.settings,
                        to=f"m{n}@example.org",
                        subject="Hi",
                        paragraphs=["Hello."],
                    )
            sent = await asyncio.gather(
                sending.run_once(instance.runtime, limit=4),
                sending.run_once(instance.runtime, limit=4),
            )
            sent_again = await sending.run_once(instance.runtime, limit=10)
            assert sum(sent) + sent_again == 6
            assert sorted(str(m["To"]) for m in inbox.messages) == [
                f"m{n}@example.org" for n in range(6)
            ]


async def test_a_permanent_refusal_is_recorded_as_failed_with_the_reason(
    database_url: str,
) -> None:
    port = free_port()
    with smtp_server(port, Inbox(rcpt_answer="550 5.1.1 No such mailbox")):
        async with instance_with_mail(database_url, port) as instance:
            await set_address(instance)
            assert await sending.run_once(instance.runtime) == 0
            [row] = await queued(instance)
            assert row.state == MailState.FAILED
            assert row.last_error == "550 5.1.1 No such mailbox"
            # and the admin's queue page shows it, with the reason
            await set_password(instance)
            async with instance.runtime.sessions() as session, session.begin():
                ana = await actors.find_actor(session, "ana")
                assert ana is not None
                ana.is_admin = True
            await sign_in(instance.http, "ana", PASSWORD)
            text = (await instance.http.get("/admin/queue")).text
            assert "ana@example.org: <code>550 5.1.1 No such mailbox</code>" in text
            assert "<tr><td>Failed</td><td>1</td></tr>" in text.split('id="mail-heading"')[1]


async def test_a_temporary_refusal_is_tried_again(database_url: str) -> None:
    port = free_port()
    with smtp_server(port, Inbox(rcpt_answer="451 4.7.1 Try again later")):
        async with instance_with_mail(database_url, port) as instance:
            await set_address(instance)
            await sending.run_once(instance.runtime)
            [row] = await queued(instance)
            assert row.state == MailState.PENDING and row.last_error == "451 4.7.1 Try again later"


def test_an_invalid_address_is_refused_and_mail_off_queues_nothing() -> None:
    with pytest.raises(mail.InvalidAddress):
        mail.check_address("not an address")
    assert mail.check_address(" ana@Example.org ") == "ana@example.org"
    off = settings_for(BASE_URL, "sqlite+aiosqlite://")
    assert not off.mail_enabled


@pytest.fixture
def mail_cli(
    clean_environ: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> pytest.MonkeyPatch:
    monkeypatch.setenv("AYNI_CONFIG", str(clean_environ / "none.toml"))
    monkeypatch.setenv("AYNI_BASE_URL", "https://aid.example.org")
    monkeypatch.setenv("AYNI_DATABASE_URL", database_url)
    monkeypatch.setenv("AYNI_MAIL_FROM", FROM)
    return monkeypatch


def test_mail_test_sends_one_message_and_says_so_in_one_line(
    mail_cli: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    mail_cli.setenv("AYNI_SMTP_URL", f"smtp://127.0.0.1:{port}")
    with smtp_server(port, Inbox()) as inbox:
        assert main(["mail", "test", "ana@example.org"]) == 0
    out, err = capsys.readouterr()
    assert out == f"Sent to ana@example.org through 127.0.0.1:{port}: the server accepted it.\n"
    assert err == ""
    [message] = inbox.messages
    assert message["Auto-Submitted"] == "auto-generated" and message["Message-ID"]


def test_mail_test_against_a_closed_port_fails_in_one_line(
    mail_cli: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    mail_cli.setenv("AYNI_SMTP_URL", f"smtp://127.0.0.1:{port}")
    assert main(["mail", "test", "ana@example.org"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(
        f"ayni: error: not sent to ana@example.org through 127.0.0.1:{port}: SMTPConnectError"
    ), err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_member_email_queues_the_confirmation_and_mail_off_says_so(
    mail_cli: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["member", "add", "rosa"]) == 0
    capsys.readouterr()
    mail_cli.setenv("AYNI_SMTP_URL", "smtp://127.0.0.1:1")
    assert main(["member", "email", "rosa", "rosa@example.org"]) == 0
    assert capsys.readouterr().out == (
        "@rosa's address is rosa@example.org, unconfirmed: a confirmation link is queued for it.\n"
    )
    assert main(["member", "email", "rosa", "nope"]) == 1
    assert capsys.readouterr().err.startswith("ayni: error: 'nope' is not an e-mail address: ")
    assert main(["queue", "status"]) == 0
    assert "mail: pending 1" in capsys.readouterr().out
    mail_cli.delenv("AYNI_SMTP_URL")
    assert main(["member", "email", "rosa", "rosa@example.org"]) == 1
    assert capsys.readouterr().err == (
        "ayni: error: e-mail is off: set AYNI_SMTP_URL and AYNI_MAIL_FROM to turn it on\n"
    )
