"""Alerts by e-mail, against a real SMTP server (aiosmtpd on a loopback port): urgent calls at
once (even in quiet hours), responses at once or in the digest, moderators' news, quiet hours,
the daily digest on a controlled clock, the member's language, and what no message may say."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from federation.itemterms import Kind
from inbox import worker as inbox_worker
from models import actors, alerts, mail, posting
from models.actors import LocalActor, Role
from models.alerts import AlertSettings
from models.base import utcnow
from models.posting import Draft
from models.queue import Alert, MailMessage
from outbox import alerts as telling
from outbox import expiry
from outbox import mail as sending
from tests.calls import SECRET, post_call
from tests.instances import Instance
from tests.integration.conftest import Net
from tests.integration.test_mail import FROM, Inbox, body, free_port, smtp_server
from tests.peers import MastodonPeer
from tests.web import PASSWORD, Page, set_password, sign_in

BASE = "http://127.0.0.1:8120"


@dataclass
class World:
    instance: Instance
    inbox: Inbox
    peer: MastodonPeer


@pytest.fixture
async def world(net: Net) -> AsyncIterator[World]:
    port = free_port()
    with smtp_server(port, Inbox()) as inbox:
        instance = await net.instance(BASE, smtp_url=f"smtp://127.0.0.1:{port}", mail_from=FROM)
        await add_member(instance, "bea", "Bea Quispe", "bea@example.org")
        yield World(instance, inbox, net.peer("http://127.0.0.1:8221"))


async def add_member(instance: Instance, username: str, name: str, address: str) -> None:
    """A member of `food` with a confirmed address."""
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        member = await actors.create_member(session, username, None, name)
        await actors.join_group(session, group, member, Role.MEMBER)
        row = await mail.set_address(session, instance.settings, member, address)
        row.confirmed_at = utcnow()
        await session.flush()
        await session.execute(MailMessage.__table__.delete())  # the confirmation is not news


async def switches(instance: Instance, username: str, **values: object) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        member = await actors.find_actor(session, username)
        assert member is not None
        row = await alerts.settings_of(session, member.id)
        for name, value in values.items():
            setattr(row, name, value)
        if "language" in values:
            member.language = str(values["language"])
        await alerts.save(session, row)


async def tell_and_send(world: World, now: datetime | None = None) -> list[EmailMessage]:
    """Run the alerts worker, then the mail worker, at `now`; what the SMTP server received."""
    before = len(world.inbox.messages)
    await telling.run_once(world.instance.runtime, now=now)
    await sending.run_once(world.instance.runtime, now=now)
    return world.inbox.messages[before:]


async def post_ask(instance: Instance, author: str, title: str = "A pram for twins") -> str:
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        member = await actors.find_actor(session, author)
        assert group is not None and member is not None
        item = await posting.create_item(
            session,
            instance.runtime.uris,
            group,
            member,
            Draft(Kind.ASK, title, "For Rosa Flores at Calle Luna 3, 2B", "goods"),
            confirm=True,
        )
        return item.uri


async def help_with(instance: Instance, uri: str, username: str) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        member = await actors.find_actor(session, username)
        item = await session.scalar(select(posting.Item).where(posting.Item.uri == uri))
        assert member is not None and item is not None
        await posting.respond(session, instance.runtime.uris, item, member)


def everything(message: EmailMessage) -> str:
    return str(message) + body(message, "plain") + body(message, "html")


async def test_an_urgent_call_reaches_every_member_at_once_without_its_meeting_point(
    world: World,
) -> None:
    # Bea is in her quiet hours all day long: an urgent call still goes through
    await switches(world.instance, "bea", quiet_from=0, quiet_until=23 * 60 + 59)
    call = await post_call(world.instance)

    [message] = await tell_and_send(world)

    assert message["To"] == "bea@example.org"
    assert message["Subject"] == f"Solidarity call in Food Share: {call.title}"
    text = body(message, "plain")
    assert f"{BASE}/items/{call.uuid}" in text
    assert "Starts: Thursday 5 December, 09:00 (UTC)" in text
    assert message["List-Unsubscribe"].startswith(f"<{BASE}/email/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Never where to meet, nor what the call says beyond its title
    for secret in (SECRET, "Lavapiés", "Bring a thermos"):
        assert secret not in everything(message)
    # Ana posted it: she is not told of her own call; nothing is left to tell
    assert await tell_and_send(world) == []


async def test_a_call_its_poster_says_is_not_urgent_waits_for_the_digest(world: World) -> None:
    await post_call(world.instance, urgent=False)
    assert await tell_and_send(world) == []


async def test_a_response_is_told_at_once_without_who_or_what_and_quiet_hours_hold_it(
    world: World,
) -> None:
    uri = await post_ask(world.instance, "bea")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = (now.hour * 60 + now.minute - 60) % (24 * 60)
    await switches(world.instance, "bea", quiet_from=start, quiet_until=(start + 120) % 1440)

    await help_with(world.instance, uri, "ana")

    # In her quiet hours: queued, not sent
    assert await tell_and_send(world, now) == []
    # When they end (an hour from now), it goes
    [message] = await tell_and_send(world, now + timedelta(minutes=61))
    assert message["Subject"] == "New response to “A pram for twins”"
    assert uri.replace(f"{BASE}/items/", "") in body(message, "plain")
    for secret in ("Ana", "Rosa Flores", "Calle Luna"):
        assert secret not in everything(message)


async def test_a_direct_message_is_told_without_its_text(world: World) -> None:
    uri = await post_ask(world.instance, "bea")
    peer = world.peer
    note = peer.note(
        "<p>My sister Rosa is at the shelter on 5th street</p>",
        to=[f"{BASE}/actors/food"],
        in_reply_to=uri,
        mention=f"{BASE}/actors/food",
    )
    assert (await peer.send(f"{BASE}/inbox", note)).status_code == 202
    assert await inbox_worker.run_once(world.instance.runtime) == 1

    [message] = await tell_and_send(world)

    assert message["To"] == "bea@example.org"
    assert message["Subject"] == "New response to “A pram for twins”"
    for secret in ("sister", "shelter", "5th street", "alice", "Alice"):
        assert secret not in everything(message)


async def test_responses_for_the_digest_wait_and_come_in_the_daily_digest(world: World) -> None:
    start = datetime(2031, 3, 1, 8, 0, tzinfo=UTC)
    await switches(world.instance, "bea", responses="digest", digest="daily", digest_sent_at=start)
    uri = await post_ask(world.instance, "bea")
    await help_with(world.instance, uri, "ana")
    other = await post_ask(world.instance, "ana", "Winter coats, size 8")
    assert await tell_and_send(world) == []  # nothing at once

    runtime = world.instance.runtime
    async with runtime.sessions() as session, session.begin():
        # the item and the response were made "now"; move them into the period
        await session.execute(
            posting.Item.__table__.update().values(created_at=start + timedelta(hours=1))
        )
        await session.execute(
            posting.ItemResponse.__table__.update().values(created_at=start + timedelta(hours=2))
        )

    # Not yet a day: nothing
    async with runtime.sessions() as session, session.begin():
        assert (
            await alerts.digests_due(session, world.instance.settings, start + timedelta(hours=23))
            == 0
        )
    # A day on, with two workers at once: one digest
    later = start + timedelta(days=1, minutes=1)

    async def one_worker() -> int:
        async with runtime.sessions() as session, session.begin():
            return await alerts.digests_due(session, world.instance.settings, later)

    assert sum(await asyncio.gather(one_worker(), one_worker())) == 1
    await sending.run_once(runtime, now=later)
    [digest] = world.inbox.messages
    assert digest["Subject"] == "Your daily digest from 127.0.0.1:8120"
    text = body(digest, "plain")
    assert "New in your groups:" in text and "Ask: Winter coats, size 8" in text
    assert other in text
    assert "New responses to your posts:" in text and "A pram for twins: 1 new response" in text
    assert "Rosa Flores" not in everything(digest) and "Calle Luna" not in everything(digest)
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The next day brings nothing new: no message
    async with runtime.sessions() as session, session.begin():
        assert (
            await alerts.digests_due(session, world.instance.settings, later + timedelta(days=1))
            == 0
        )


async def test_a_member_seen_for_the_first_time_starts_her_period_and_gets_no_digest_yet(
    world: World,
) -> None:
    await post_ask(world.instance, "ana")
    async with world.instance.runtime.sessions() as session, session.begin():
        assert await alerts.digests_due(session, world.instance.settings) == 0
    async with world.instance.runtime.sessions() as session:
        bea = await actors.find_actor(session, "bea")
        assert bea is not None
        row = await session.get(AlertSettings, bea.id)
        assert row is not None and row.digest_sent_at is not None and row.digest == "weekly"


async def test_the_periodic_job_sends_due_digests(world: World) -> None:
    start = datetime(2031, 3, 1, 8, 0, tzinfo=UTC)
    await switches(world.instance, "bea", digest="weekly", digest_sent_at=start)
    await post_ask(world.instance, "ana", "Winter coats, size 8")
    async with world.instance.runtime.sessions() as session, session.begin():
        await session.execute(
            posting.Item.__table__.update().values(created_at=start + timedelta(days=3))
        )
    await expiry.run_once(world.instance.runtime, now=start + timedelta(days=7))
    await sending.run_once(world.instance.runtime, now=start + timedelta(days=7))
    [digest] = world.inbox.messages
    assert digest["Subject"] == "Your weekly digest from 127.0.0.1:8120"


async def test_everything_is_in_her_language(world: World) -> None:
    await switches(world.instance, "bea", language="es", timezone="America/Lima")
    call = await post_call(world.instance)

    [message] = await tell_and_send(world)

    assert message["Subject"].strip() == f"Llamada de solidaridad en Food Share: {call.title}"
    text = body(message, "plain")
    assert "Empieza: jueves 5 diciembre, 04:00 (America/Lima)" in text
    assert "Para dejar de recibir estos mensajes" in text
    assert '<html lang="es">' in body(message, "html")


async def test_switched_off_and_unsubscribed_members_are_not_told(world: World) -> None:
    await switches(world.instance, "bea", urgent_calls=False)
    await post_call(world.instance)
    assert await tell_and_send(world) == []
    async with world.instance.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 0

    await switches(world.instance, "bea", urgent_calls=True)
    async with world.instance.runtime.sessions() as session, session.begin():
        bea = await actors.find_actor(session, "bea")
        assert bea is not None
        row = await mail.address_of(session, bea)
        assert row is not None
        token = mail.unsubscribe_token(world.instance.settings, bea.id, row.address)
    assert (await world.instance.http.post(f"/email/unsubscribe/{token}")).status_code == 200
    await post_call(world.instance)
    assert await tell_and_send(world) == []


async def test_moderators_hear_of_follow_requests_once_and_members_never(world: World) -> None:
    instance, peer = world.instance, world.peer
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        group.manually_approves_followers = True
        ana = await actors.find_actor(session, "ana")
        assert ana is not None
        row = await mail.set_address(session, instance.settings, ana, "ana@example.org")
        row.confirmed_at = utcnow()
        await session.flush()
        await session.execute(MailMessage.__table__.delete())
    follow = peer.follow(f"{BASE}/actors/food")
    assert (await peer.send(f"{BASE}/actors/food/inbox", follow)).status_code == 202
    assert (
        await peer.send(f"{BASE}/actors/food/inbox", peer.follow(f"{BASE}/actors/food"))
    ).status_code == 202
    await inbox_worker.run_once(instance.runtime)

    [message] = await tell_and_send(world)

    assert message["To"] == "ana@example.org"
    assert message["Subject"] == "Food Share has a follow request to answer"
    assert f"{BASE}/groups/food/moderation" in body(message, "plain")
    assert "alice" not in everything(message)


async def test_two_alert_workers_tell_once(world: World) -> None:
    await post_call(world.instance)
    runtime = world.instance.runtime
    await asyncio.gather(telling.run_once(runtime), telling.run_once(runtime))
    await sending.run_once(runtime)
    assert len(world.inbox.messages) == 1


async def test_a_call_deleted_before_it_is_told_is_not_told(world: World) -> None:
    call = await post_call(world.instance)
    async with world.instance.runtime.sessions() as session, session.begin():
        item = await session.get(posting.Item, call.id)
        ana = await actors.find_actor(session, "ana")
        assert item is not None and ana is not None
        await posting.delete_item(session, world.instance.runtime.uris, item, by=ana)
    assert await tell_and_send(world) == []


async def test_the_settings_form_saves_switches_and_marks_what_is_wrong(world: World) -> None:
    instance = world.instance
    await set_password(instance, "bea")
    await sign_in(instance.http, "bea", PASSWORD)
    page = Page((await instance.http.get("/my/account")).text)
    form = {
        "csrf_token": page.csrf or "",
        "responses": "digest",
        "digest": "daily",
        "moderation": "on",
        "quiet_from": "22:00",
        "quiet_until": "",
        "timezone": "Mars/Olympus",
        "language": "es",
    }
    refused = await instance.http.post("/my/account/alerts", data=form)
    assert refused.status_code == 400
    assert 'id="timezone-error"' in refused.text and 'aria-invalid="true"' in refused.text
    assert "Give both times of your quiet hours, or neither." in refused.text
    async with instance.runtime.sessions() as session:
        bea = await actors.find_actor(session, "bea")
        assert bea is not None and await session.get(AlertSettings, bea.id) is None

    saved = await instance.http.post(
        "/my/account/alerts",
        data={**form, "quiet_until": "07:30", "timezone": "America/La_Paz"},
    )
    assert saved.status_code == 303
    async with instance.runtime.sessions() as session:
        bea = await session.get_one(LocalActor, bea.id)
        row = await session.get_one(AlertSettings, bea.id)
        assert (row.urgent_calls, row.responses, row.digest, row.moderation) == (
            False,
            "digest",
            "daily",
            True,
        )
        assert (row.quiet_from, row.quiet_until, row.timezone) == (
            22 * 60,
            7 * 60 + 30,
            "America/La_Paz",
        )
        assert bea.language == "es"
    shown = (await instance.http.get("/my/account")).text
    assert 'value="22:00"' in shown and 'value="07:30"' in shown

    no_token = await instance.http.post("/my/account/alerts", data={**form, "csrf_token": ""})
    assert no_token.status_code == 403


def test_quiet_hours_across_midnight_end_in_her_time_zone() -> None:
    row = alerts.defaults(1)
    row.quiet_from, row.quiet_until, row.timezone = 22 * 60, 7 * 60, "Europe/Madrid"
    # 23:30 in Madrid (UTC+1 in winter): quiet until 07:00 Madrid, 06:00 UTC the next day
    assert row.quiet_end(datetime(2031, 1, 10, 22, 30, tzinfo=UTC)) == datetime(
        2031, 1, 11, 6, 0, tzinfo=UTC
    )
    # 03:00 Madrid: until 07:00 the same day
    assert row.quiet_end(datetime(2031, 1, 11, 2, 0, tzinfo=UTC)) == datetime(
        2031, 1, 11, 6, 0, tzinfo=UTC
    )
    # 12:00 Madrid: not quiet
    assert row.quiet_end(datetime(2031, 1, 11, 11, 0, tzinfo=UTC)) is None
    row.quiet_from = row.quiet_until = None
    assert row.quiet_end(datetime(2031, 1, 10, 22, 30, tzinfo=UTC)) is None


async def give_ana_an_address(instance: Instance) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        ana = await actors.find_actor(session, "ana")
        assert ana is not None
        row = await mail.set_address(session, instance.settings, ana, "ana@example.org")
        row.confirmed_at = utcnow()
        await session.flush()
        await session.execute(MailMessage.__table__.delete())


async def test_moderators_hear_of_submissions_and_reports_without_their_text(
    world: World,
) -> None:
    instance, peer = world.instance, world.peer
    await give_ana_an_address(instance)
    uri = await post_ask(instance, "bea")
    group = f"{BASE}/actors/food"
    submission = peer.note(
        "<p>Please share: my landlord Juan Pérez is evicting us</p>",
        to=["https://www.w3.org/ns/activitystreams#Public"],
        cc=[group],
        mention=group,
    )
    flag = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{peer.actor_uri}/flags/1",
        "type": "Flag",
        "actor": peer.actor_uri,
        "object": [uri],
        "content": "This names a neighbour of mine",
    }
    assert (await peer.send(f"{BASE}/inbox", submission)).status_code == 202
    assert (await peer.send(f"{BASE}/inbox", flag)).status_code == 202
    assert await inbox_worker.run_once(instance.runtime) == 2

    messages = await tell_and_send(world)

    assert sorted(m["Subject"] for m in messages) == [
        "A new report for Food Share to look at",
        "A post submitted to Food Share waits for review",
    ]
    assert {m["To"] for m in messages} == {"ana@example.org"}  # bea is no moderator
    for message in messages:
        for secret in ("Juan", "landlord", "neighbour", "alice"):
            assert secret not in everything(message)


async def test_a_private_answer_to_her_response_is_told_without_its_text_or_her_message(
    world: World,
) -> None:
    # Given Bea said she can help with Ana's ask, with a private message
    uri = await post_ask(world.instance, "ana")
    async with world.instance.runtime.sessions() as session, session.begin():
        bea = await actors.find_actor(session, "bea")
        item = await session.scalar(select(posting.Item).where(posting.Item.uri == uri))
        assert bea is not None and item is not None
        response = await posting.respond(
            session, world.instance.runtime.uris, item, bea, "My van is free on Sunday"
        )
    await tell_and_send(world)  # Ana has no address: nothing for her

    # When Ana answers it privately
    async with world.instance.runtime.sessions() as session, session.begin():
        ana = await actors.find_actor(session, "ana")
        assert ana is not None
        await posting.reply_to_response(
            session, world.instance.runtime.uris, response, ana, "Lovely, ring 600 111 222"
        )
    [message] = await tell_and_send(world)

    # Then Bea is told there is an answer and where, never what it or her message says
    assert message["To"] == "bea@example.org"
    assert message["Subject"] == "An answer to your response to “A pram for twins”"
    assert f"{BASE}/items/" in body(message, "plain")
    for secret in ("Lovely", "600 111 222", "My van", "Calle Luna"):
        assert secret not in everything(message)
