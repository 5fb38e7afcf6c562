"""The network board: our groups' public items and the items of groups they follow elsewhere,
delivered over real signed HTTP between two instances; filters by kind, category and distance."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from ayni import following
from federation.itemterms import Kind
from federation.places import Place
from federation.visibility import Visibility
from models import actors, commitments, policy, posting
from models.actors import Role
from models.base import utcnow
from models.calls import Channel, CommitmentState
from models.commitments import Person
from models.items import Item, RemoteItem
from models.posting import Draft
from tests.instances import Instance, settle
from tests.web import PASSWORD, Page, set_password, sign_in

A = "http://127.0.0.1:8101"
B = "http://127.0.0.1:8102"
LIMA = Place("Miraflores", -12.12, -77.03, 500)
CUSCO = Place("San Blas", -13.51, -71.97, 500)


async def _post(instance: Instance, *drafts: Draft) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        for draft in drafts:
            await posting.create_item(session, instance.runtime.uris, group, ana, draft)


async def _add_member(instance: Instance, name: str, role: Role | None) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        member = await actors.create_member(session, name, None, name.title())
        if role is not None:
            group = await actors.find_actor(session, "food")
            assert group is not None
            await actors.join_group(session, group, member, role)


async def test_anonymous_visitors_are_sent_to_sign_in(instance: Instance) -> None:
    response = await instance.http.get("/board?kind=ask")

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/board%3Fkind%3Dask"


async def test_the_board_shows_followed_groups_items_and_our_own_public_ones(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    # Given B's food follows A's food, and both post
    await following.follow_handle(b.runtime, "food", "@food@127.0.0.1:8101")
    await settle(a, b)
    await _post(
        a, Draft(Kind.ASK, "Blankets for the shelter", category="goods", as_group=True, place=LIMA)
    )
    await _post(
        b,
        Draft(Kind.OFFER, "Bread on Saturdays", category="food", as_group=True),
        Draft(Kind.ASK, "Members-only rent fund", visibility=Visibility.MEMBERS, as_group=True),
    )
    await settle(a, b)
    await set_password(b)
    await sign_in(b.http, "ana", PASSWORD)

    # When Ana on B opens the board
    response = await b.http.get("/board")

    # Then she sees A's ask (linking to its uri on A), B's own public offer, and (a member of
    # B's food) its members-only ask with its badge
    assert response.status_code == 200
    page = response.text
    assert "Blankets for the shelter" in page and f'href="{A}/items/' in page
    assert "Bread on Saturdays" in page and 'href="/@food"' in page
    assert "Members-only rent fund" in page
    assert page.count('<span class="badge badge-private">Members only</span>') == 1
    assert page.index("Bread on Saturdays") < page.index("Blankets for the shelter")  # newest first
    html = Page(page)
    assert (
        html.h1 == 1
        and html.unlabelled() == []
        and html.landmarks == {"header", "nav", "main", "footer"}
    )

    # And once B blocks A's server, A's items leave the board
    async with b.runtime.sessions() as session, session.begin():
        await policy.block_domain(session, "127.0.0.1")
    b.runtime.blocklist.forget()
    after = (await b.http.get("/board")).text
    assert "Blankets for the shelter" not in after and "Bread on Saturdays" in after


async def test_a_remote_item_posted_in_a_members_name_is_listed_under_her_group(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    async with a.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        food.name = "Miraflores Food Share"
    await following.follow_handle(b.runtime, "food", "@food@127.0.0.1:8101")
    await settle(a, b)
    await _post(
        a, Draft(Kind.ASK, "Rice for the community kitchen", category="food", as_group=False)
    )
    await settle(a, b)
    await set_password(b)
    await sign_in(b.http, "ana", PASSWORD)

    page = (await b.http.get("/board")).text

    entry = page[page.index("Rice for the community kitchen") :]
    assert "Miraflores Food Share" in entry[: entry.index("</li>")]


async def test_followers_only_items_show_only_to_members_of_the_following_group(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    await following.follow_handle(b.runtime, "food", "@food@127.0.0.1:8101")
    await settle(a, b)
    await _post(
        a,
        Draft(Kind.ASK, "Quiet ask for followers", visibility=Visibility.FOLLOWERS, as_group=True),
    )
    await settle(a, b)
    async with b.runtime.sessions() as session:
        assert list(await session.scalars(select(RemoteItem.visibility))) == ["followers"]
    await _add_member(b, "bea", None)  # a member of this instance, in no group
    await set_password(b, "bea")
    await sign_in(b.http, "bea", PASSWORD)

    outsider = (await b.http.get("/board")).text
    await b.http.post("/logout", data={"csrf_token": Page(outsider).csrf})
    await set_password(b)
    await sign_in(b.http, "ana", PASSWORD)
    insider = (await b.http.get("/board")).text

    assert "Quiet ask for followers" not in outsider
    assert "Quiet ask for followers" in insider


async def test_the_board_filters_by_kind_category_and_distance(instance: Instance) -> None:
    await _post(
        instance,
        Draft(Kind.ASK, "Blankets in Lima", category="goods", as_group=True, place=LIMA),
        Draft(Kind.OFFER, "Lifts to the market", category="transport", as_group=True, place=CUSCO),
        Draft(Kind.ASK, "Help with forms", category="legal", as_group=True),
    )
    await set_password(instance)
    await sign_in(instance.http, "ana", PASSWORD)

    asks = (await instance.http.get("/board?kind=ask")).text
    transport = (await instance.http.get("/board?category=transport")).text
    near_lima = (
        await instance.http.get("/board", params={"near": "-12.1, -77.0", "within": "10"})
    ).text
    chosen_place = (
        await instance.http.get("/board", params={"place": "-13.5100,-71.9700", "within": "5"})
    ).text

    assert (
        "Blankets in Lima" in asks
        and "Help with forms" in asks
        and "Lifts to the market" not in asks
    )
    assert "Lifts to the market" in transport and "Blankets in Lima" not in transport
    assert "Blankets in Lima" in near_lima and "km away" in near_lima
    assert (
        "Lifts to the market" not in near_lima and "Help with forms" not in near_lima
    )  # no point: not near
    assert "Lifts to the market" in chosen_place and "Blankets in Lima" not in chosen_place
    assert "Only coarse places are used" in near_lima
    assert "San Blas" in asks  # the groups' places are offered as choices


@pytest.mark.parametrize(
    "params", [{"near": "javascript:alert(1)"}, {"near": "91,0"}, {"near": "1,1", "within": "-3"}]
)
async def test_a_bad_place_or_distance_is_a_clear_error_not_a_crash(
    instance: Instance, params: dict[str, str]
) -> None:
    await set_password(instance)
    await sign_in(instance.http, "ana", PASSWORD)

    response = await instance.http.get("/board", params=params)

    assert response.status_code == 400
    assert 'role="alert"' in response.text
    assert Page(response.text).h1 == 1


async def test_calls_on_the_board_say_how_many_are_coming_here_and_from_elsewhere(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    await following.follow_handle(b.runtime, "food", "@food@127.0.0.1:8101")
    await settle(a, b)
    starts = utcnow() + timedelta(hours=3)
    call = Draft(
        Kind.CALL,
        "Picket at the landlord's office",
        category="housing",
        as_group=True,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        people_wanted=5,
        place=LIMA,
    )
    await _post(a, call)
    async with a.runtime.sessions() as session, session.begin():
        item = await session.scalar(select(Item).where(Item.kind == Kind.CALL))
        ana = await actors.find_actor(session, "ana")
        assert item is not None and ana is not None
        await commitments.commit(
            session, a.runtime, item, Person.member(ana), CommitmentState.COMING, Channel.WEB
        )
    await settle(a, b)
    for instance in (a, b):
        await set_password(instance)
        await sign_in(instance.http, "ana", PASSWORD)

    here = (await a.http.get("/board")).text
    there = (await b.http.get("/board")).text

    for page in (here, there):
        entry = page[page.index("Picket at the landlord") :]
        entry = entry[: entry.index("</li>")]
        assert '<span class="coming">1 of 5 coming</span>' in entry
        assert '<span class="due">starts <time' in entry
