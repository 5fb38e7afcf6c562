"""A member reports another server's item from her board: her groups' moderators (those that
follow it) see it; a moderator sends it on to that server as the group's Flag, over real signed
HTTP, with her words and never her name. People on A: ana (admin of food), mo (moderator of
food), ben (member of food) and bo (moderator of books, which does not follow B)."""

import httpx
from sqlalchemy import select

from ayni import following
from federation.itemterms import Kind
from models import actors, posting
from models.alerts import Alert, AlertKind
from models.content import RemoteObject, RemoteObjectKind
from models.items import RemoteItem
from models.moderation import MemberReport
from models.posting import Draft
from tests.instances import Instance, settle
from tests.integration.test_web_moderation import add_people, browser
from tests.web import PASSWORD, csrf, set_password

COMMENT = "This offer is a scam asking for bank details"


async def _post(http: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
    return await http.post(path, data={"csrf_token": await csrf(http, "/groups"), **data})


async def test_a_member_reports_a_remote_item_and_a_moderator_sends_it_on(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    await add_people(a)
    await following.follow_handle(a.runtime, "food", "@food@127.0.0.1:8102")
    await settle(a, b)
    async with b.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        await posting.create_item(
            session, b.runtime.uris, group, ana, Draft(Kind.OFFER, "Free loans", as_group=True)
        )
    await settle(a, b)
    async with a.runtime.sessions() as session:
        remote_id = await session.scalar(select(RemoteItem.id))
    assert remote_id is not None

    async with browser(a, "ben") as ben:
        board = (await ben.get("/board")).text
        assert f'href="/report?remote={remote_id}"' in board
        form = await ben.get(f"/report?remote={remote_id}")
        assert form.status_code == 200 and "Free loans" in form.text
        sent = await _post(ben, "/report", remote=str(remote_id), comment=COMMENT)
        assert sent.status_code == 303
    async with a.runtime.sessions() as session:
        reports = list(await session.scalars(select(MemberReport)))
        books = await actors.find_actor(session, "books")
        told = set(
            await session.scalars(select(Alert.group_id).where(Alert.kind == AlertKind.REPORT))
        )
    assert [r.remote_item_id for r in reports] == [remote_id]  # food follows B; books does not
    assert books is not None and books.id not in told and told

    async with a.runtime.sessions() as session, session.begin():
        await actors.create_member(session, "zoe", PASSWORD)  # in no group yet
    async with browser(a, "zoe") as zoe:
        alone = await _post(zoe, "/report", remote=str(remote_id), comment="x")
    assert alone.status_code == 400 and "you are in none yet" in alone.text

    async with browser(a, "mo") as mo:
        page = (await mo.get("/groups/food/moderation")).text
        section = page[page.index('id="reports"') : page.index('id="blocks"')]
        assert "Free loans" in section and COMMENT in section and "@food@127.0.0.1:8102" in section
        path = f"/groups/food/moderation/reports/{reports[0].id}/pass-on"
        assert path in section
        assert (await _post(mo, path)).status_code == 303
        again = await _post(mo, path)
    assert again.status_code == 404  # resolved: sent once
    await settle(a, b)

    async with b.runtime.sessions() as session:
        flags = list(
            await session.scalars(
                select(RemoteObject).where(RemoteObject.kind == RemoteObjectKind.REPORT)
            )
        )
    assert len(flags) == 1
    flag = flags[0].document
    assert flag["actor"] == "http://127.0.0.1:8101/actors/food" and flag["content"] == COMMENT
    assert "ben" not in str(flag).lower()
    await set_password(b)
    async with browser(b, "ana") as b_admin:
        seen = (await b_admin.get("/groups/food/moderation")).text
    assert COMMENT in seen and "Free loans" in seen


async def test_what_her_board_does_not_show_cannot_be_reported(
    pair: tuple[Instance, Instance],
) -> None:
    a, _ = pair
    await add_people(a)
    async with browser(a, "ben") as ben:
        assert (await ben.get("/report?remote=999")).status_code == 404
        assert (await ben.get("/report?remote=x1")).status_code == 404
        refused = await _post(ben, "/report", remote="999", comment="x")
    assert refused.status_code == 404
    async with a.runtime.sessions() as session:
        assert list(await session.scalars(select(MemberReport))) == []
