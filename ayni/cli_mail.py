"""`ayni member email` and `ayni mail test`: a member's address, and whether the SMTP server
takes our messages."""

import argparse
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from ayni.commands import CommandError, command, find_member, transaction
from models import mail
from models.runtime import Runtime


def register(commands: Any) -> None:
    group = commands.add_parser("mail", help="outgoing e-mail").add_subparsers(
        title="mail commands", metavar="COMMAND"
    )
    test = group.add_parser(
        "test", help="send one message now (not queued) and print the SMTP server's answer"
    )
    test.add_argument("address")
    test.set_defaults(run=cmd_mail_test)


def register_member(member: Any) -> None:
    email = member.add_parser(
        "email", help="set a member's e-mail address and send it a confirmation link"
    )
    email.add_argument("username")
    email.add_argument("address")
    email.set_defaults(run=cmd_member_email)


@transaction
async def cmd_member_email(
    args: argparse.Namespace, runtime: Runtime, session: AsyncSession
) -> str:
    member = await find_member(session, args.username)
    row = await mail.set_address(session, runtime.settings, member, args.address)
    return (
        f"@{member.username}'s address is {row.address}, unconfirmed: "
        "a confirmation link is queued for it."
    )


@command
async def cmd_mail_test(args: argparse.Namespace, runtime: Runtime) -> None:
    from outbox import mail as sending

    settings = runtime.settings
    if not settings.mail_enabled:
        raise mail.MailOff
    address = mail.check_address(args.address)
    domain = urlsplit(settings.base_url).hostname or "localhost"
    message = mail.build(
        settings,
        to=address,
        subject=f"Test message from {settings.host}",
        text=f"This is a test message from the Ayni instance at {settings.base_url}.\n",
        html_part=mail.html_body(
            [f"This is a test message from the Ayni instance at {settings.base_url}."]
        ),
        fixed={"Message-ID": make_msgid(domain=domain), "Auto-Submitted": "auto-generated"},
    )
    server = urlsplit(settings.smtp_url)
    where = f"{server.hostname}:{server.port or ''}".rstrip(":")
    try:
        await sending.send(settings, message)
    except sending.SENDING_ERRORS as e:
        raise CommandError(
            f"not sent to {address} through {where}: {sending.describe(e)}"
        ) from None
    print(f"Sent to {address} through {where}: the server accepted it.")
