"""Asks on behalf of someone without an account: a moderator posts one from the web form or the
command line; her name and contact are on the moderators' item page and edit page, and nowhere
else: not in any activity, not in what a Mastodon follower receives, not on the page for
visitors or members, the board, notifications, `ayni items --json`, nor the logs."""

import argparse
import contextlib
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from ayni import cli_items
from federation.itemterms import Kind
from models import actors, intake, posting
from models.actors import Role
from models.intake import IntakeNote
from models.items import Item
from models.posting import Draft, NotAllowed
from models.queue import Activity
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.peers import MastodonPeer
from tests.web import PASSWORD, csrf, sign_in

A = "http://127.0.0.1:8101"
NAME = "Dolores Ibarruri-Zapatero"
CONTACT = "ask at the Calle Tulipan 7 bakery, 612 345 678"


@contextlib.asynccontextmanager
async def browser(instance: Instance, username: str | None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=instance.app)
    async with httpx.AsyncClient(transport=transport, base_url=instance.settings.base_url) as http:
        if username:
            assert (await sign_in(http, username, PASSWORD)).status_code == 303
        yield http


@pytest.fixture
async def world(net: Net) -> tuple[Instance, MastodonPeer]:
    a, peer = await net.instance(A), net.peer("http://127.0.0.1:8201")
    async with a.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        for name, role in (("carol", Role.MODERATOR), ("ben", Role.MEMBER)):
            member = await actors.create_member(session, name, PASSWORD, name.title())
            await actors.join_group(session, food, member, role)
    await peer.send(f"{A}/actors/food/inbox", peer.follow(f"{A}/actors/food"))
    await settle(a)
    return a, peer


def leaks(text: str) -> list[str]:
    return [secret for secret in ("Dolores", "Zapatero", "Tulipan", "612 345") if secret in text]


async def test_the_requester_is_on_the_moderators_page_and_nowhere_else(
    world: tuple[Instance, MastodonPeer], caplog: pytest.LogCaptureFixture
) -> None:
    a, peer = world
    caplog.set_level(logging.DEBUG)
    # Given Carol, a moderator, posts an ask for Dolores from the web form
    async with browser(a, "carol") as carol:
        page = await carol.get("/post")
        assert "On behalf of someone without an account" in page.text
        response = await carol.post(
            "/post",
            data={
                "csrf_token": await csrf(carol, "/post"),
                "group": "food",
                "kind": "ask",
                "title": "Groceries for a neighbour",
                "body": "Rice, oil and milk.",
                "category": "food",
                "visibility": "public",
                "timezone": "UTC",
                "for_name": NAME,
                "for_contact": CONTACT,
            },
        )
        assert response.status_code == 303, response.text
        uuid = response.headers["location"].rsplit("/", 1)[1]
        # Then her page shows who it is for, and so does the edit page
        own = await carol.get(f"/items/{uuid}")
        edit = await carol.get(f"/items/{uuid}/edit")
    assert NAME in own.text and "Calle Tulipan 7" in own.text
    assert own.headers["cache-control"] == "private, no-store"
    assert NAME in edit.text and "Calle Tulipan 7" in edit.text
    await settle(a)
    async with a.runtime.sessions() as session:
        item = await session.scalar(select(Item).where(Item.uuid == uuid))
        assert item is not None and item.as_group
        documents = list(await session.scalars(select(Activity.document)))
        sealed = await session.scalar(select(IntakeNote.sealed))
    assert sealed is not None and not leaks(sealed)
    # And Ben answers it, so Carol has a notification
    async with browser(a, "ben") as ben:
        await ben.post(
            f"/items/{uuid}/respond", data={"csrf_token": await csrf(ben, f"/items/{uuid}")}
        )
        pages = [await ben.get(path) for path in (f"/items/{uuid}", "/board", "/notifications")]
    async with browser(a, "carol") as carol:
        pages.append(await carol.get("/notifications"))
        pages.append(await carol.get("/board"))
    async with browser(a, None) as visitor:
        pages += [await visitor.get(f"/items/{uuid}"), await visitor.get("/@food")]
    args = argparse.Namespace(
        group=None, kind=None, category=None, status=None, near=None, within=10.0
    )
    async with a.runtime.sessions() as session:
        listed = json.dumps(await cli_items.board(session, args, a.settings.host))

    # Then nothing else names her: activities, what Mastodon received, pages, the list, the logs
    assert all(page.status_code == 200 for page in pages), [p.status_code for p in pages]
    assert "Groceries for a neighbour" in listed and pages[0].text.count("Groceries") >= 1
    assert any(r.get("type") == "Create" for r in peer.received)
    assert leaks(json.dumps(documents)) == []
    assert leaks(json.dumps(peer.received)) == []
    assert [leaks(page.text) for page in pages] == [[]] * len(pages)
    assert leaks(listed) == []
    assert leaks(caplog.text) == []


async def test_only_moderators_post_for_someone_and_the_note_goes_with_the_item(
    world: tuple[Instance, MastodonPeer],
) -> None:
    a, _ = world
    requester = intake.Requester(NAME, CONTACT)
    async with a.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        ben = await actors.find_actor(session, "ben")
        carol = await actors.find_actor(session, "carol")
        assert food is not None and ben is not None and carol is not None
        # A plain member may not
        with pytest.raises(NotAllowed):
            await posting.create_item(
                session,
                a.runtime.uris,
                food,
                ben,
                Draft(Kind.ASK, "Rice", requester=requester),
                seal=a.runtime.seal,
            )
        # A moderator's is posted as the group even when she did not say so; the title is
        # still checked for personal data, the requester is not
        with pytest.raises(posting.PersonalData):
            await posting.create_item(
                session,
                a.runtime.uris,
                food,
                carol,
                Draft(Kind.ASK, "Call 612 345 678", requester=requester),
                seal=a.runtime.seal,
            )
        item = await posting.create_item(
            session,
            a.runtime.uris,
            food,
            carol,
            Draft(Kind.ASK, "Rice", requester=requester),
            seal=a.runtime.seal,
        )
        assert item.as_group
        assert await intake.read(session, a.runtime.seal, item) == requester
    # When the item is removed (as retention does), its note goes with it
    async with a.runtime.sessions() as session, session.begin():
        found = await session.get(Item, item.id)
        await session.delete(found)
    async with a.runtime.sessions() as session:
        assert await session.scalar(select(IntakeNote)) is None


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (["--for", NAME], "--for needs --as-group"),
        (["--as-group", "--contact", "x"], "--contact goes with --for"),
    ],
)
def test_the_command_line_says_what_is_missing(
    extra: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from ayni.cli import build_parser
    from ayni.cli_items import _requester

    args = build_parser().parse_args(["ask", "food", "--title", "Rice", *extra])
    with pytest.raises(cli_items.CommandError, match=error):
        _requester(args)
