"""From an invitation link to a published ask: joining with a password, the post form and what it
refuses (personal data, groups one is not in, forged forms)."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import actors, escrow, invitations, passwords
from models.actors import Role, role_in
from models.items import Item
from tests.instances import Instance
from tests.web import PASSWORD, Page, csrf, set_password, sign_in, signed_in_as

NEW_PASSWORD = "lentils and rice for all"
NEEDED_BY = (datetime.now(UTC).date() + timedelta(days=14)).isoformat()  # a past date is refused


async def invitation(
    instance: Instance, role: Role = Role.MEMBER, valid_for: timedelta | None = None
) -> str:
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        if valid_for is None:
            return await invitations.invite(session, food, role)
        return await invitations.invite(session, food, role, valid_for=valid_for)


async def join(http: httpx.AsyncClient, token: str, **fields: str) -> httpx.Response:
    data = {
        "username": "carla",
        "display_name": "Carla Mamani",
        "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD,
    } | fields
    return await http.post(
        f"/invite/{token}", data={"csrf_token": await csrf(http, f"/invite/{token}"), **data}
    )


async def item_count(instance: Instance) -> int:
    async with instance.runtime.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Item)) or 0


# --- the invitation page ---


async def test_the_invitation_page_names_the_group_and_role_and_explains_the_username(
    instance: Instance,
) -> None:
    token = await invitation(instance, Role.MODERATOR)

    response = await instance.http.get(f"/invite/{token}")

    assert response.status_code == 200
    assert "Food Share" in response.text and "moderator" in response.text
    assert "@name@127.0.0.1:8101" in response.text and "anonymously as the group" in response.text
    page = Page(response.text)
    assert page.h1 == 1 and page.landmarks == {"header", "nav", "main", "footer"}
    assert page.unlabelled() == [] and len(page.controls) == 4


async def test_accepting_an_invitation_creates_the_member_signs_her_in_and_goes_to_the_post_form(
    instance: Instance,
) -> None:
    token = await invitation(instance)

    response = await join(instance.http, token)

    assert response.status_code == 303 and response.headers["location"] == "/post"
    assert await signed_in_as(instance.http) == "carla"
    async with instance.runtime.sessions() as session:
        carla = await actors.find_actor(session, "carla")
        food = await actors.find_actor(session, "food")
        assert carla is not None and food is not None and carla.name == "Carla Mamani"
        assert carla.password_hash and passwords.verify_password(carla.password_hash, NEW_PASSWORD)
        assert await role_in(session, food, carla) == Role.MEMBER
    # The link is used up
    again = await instance.http.get(f"/invite/{token}", headers={"Accept": "text/html"})
    assert again.status_code == 404 and "unknown, was already used or has expired" in again.text


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"username": "ana"}, "That username is taken"),
        ({"username": "FOOD"}, "That username is taken"),
        ({"username": "carla mamani"}, "lowercase letters, digits or _"),
        ({"password_again": "something else entirely"}, "The two passwords are not the same."),
        ({"password": "short", "password_again": "short"}, "at least 10 characters"),
    ],
)
async def test_a_bad_username_or_password_is_refused_and_the_fields_are_kept(
    instance: Instance, fields: dict[str, str], message: str
) -> None:
    token = await invitation(instance)

    response = await join(instance.http, token, **fields)

    assert response.status_code == 400
    assert message in response.text and 'role="alert"' in response.text
    assert 'value="Carla Mamani"' in response.text
    assert NEW_PASSWORD not in response.text  # passwords are never echoed back
    assert await signed_in_as(instance.http) is None
    async with instance.runtime.sessions() as session:
        assert await actors.find_actor(session, "carla") is None
        assert [i.used_at for i in await invitations.pending(session, await _food(session))] == [
            None
        ]


async def _food(session: AsyncSession) -> actors.LocalActor:
    found = await actors.find_actor(session, "food")
    assert found is not None
    return found


@pytest.mark.parametrize("kind", ["unknown", "expired"])
async def test_an_unknown_or_expired_link_gets_one_not_found_page(
    instance: Instance, kind: str
) -> None:
    token = (
        "made-up-token"
        if kind == "unknown"
        else await invitation(instance, valid_for=timedelta(seconds=-1))
    )

    page = await instance.http.get(f"/invite/{token}", headers={"Accept": "text/html"})
    posted = await instance.http.post(
        f"/invite/{token}",
        headers={"Accept": "text/html"},
        data={
            "csrf_token": await csrf(instance.http, "/login"),
            "username": "carla",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        },
    )

    for response in (page, posted):
        assert response.status_code == 404
        assert "unknown, was already used or has expired" in response.text
    async with instance.runtime.sessions() as session:
        assert await actors.find_actor(session, "carla") is None


async def test_accepting_an_invitation_needs_the_csrf_token(instance: Instance) -> None:
    token = await invitation(instance)
    await instance.http.get(f"/invite/{token}")

    response = await instance.http.post(
        f"/invite/{token}",
        data={
            "csrf_token": "forged",
            "username": "carla",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        },
    )

    assert response.status_code == 403
    async with instance.runtime.sessions() as session:
        assert await actors.find_actor(session, "carla") is None


# --- the post form ---


def ask(**fields: str) -> dict[str, str]:
    return {
        "group": "food",
        "kind": "ask",
        "title": "Nappies, size 4",
        "body": "For a newborn, any brand.",
        "category": "goods",
        "place_name": "Lavapiés",
        "latitude": "40.40871",
        "longitude": "-3.70114",
        "quantity": "2",
        "needed_by": NEEDED_BY,
        "timezone": "Europe/Madrid",
        "visibility": "public",
        "as_group": "yes",
    } | fields


async def post(http: httpx.AsyncClient, data: dict[str, str]) -> httpx.Response:
    return await http.post("/post", data={"csrf_token": await csrf(http, "/post"), **data})


def anonymous_client(instance: Instance) -> httpx.AsyncClient:
    """A second browser, signed in as nobody."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=instance.app), base_url=instance.settings.base_url
    )


async def signed_in_ana(instance: Instance) -> httpx.AsyncClient:
    await set_password(instance)
    assert (await sign_in(instance.http, "ana", PASSWORD)).status_code == 303
    return instance.http


async def test_a_new_member_goes_from_invitation_to_an_ask_posted_as_the_group_naming_her_nowhere(
    instance: Instance,
) -> None:
    # Given an invitation link, accepted with a password
    token = await invitation(instance)
    joined = await join(instance.http, token)
    assert joined.headers["location"] == "/post"
    form = await instance.http.get("/post")
    assert form.status_code == 200 and "Posting in Food Share." in form.text

    # When she posts an ask as the group
    response = await post(instance.http, ask())

    # Then she lands on its page, and it is on the group page, and neither names her
    assert response.status_code == 303 and response.headers["location"].startswith("/items/")
    async with instance.runtime.sessions() as session:
        item = await session.scalar(select(Item))
        carla = await actors.find_actor(session, "carla")
    assert item is not None and carla is not None
    assert response.headers["location"] == f"/items/{item.uuid}"
    assert (item.as_group, item.author_id, item.kind, item.quantity) == (True, carla.id, "ask", 2)
    assert item.latitude != 40.40871 and item.needed_by is not None  # stored coarse; a real date
    async with anonymous_client(instance) as anonymous:
        group_page = (await anonymous.get("/@food")).text
        item_page = await anonymous.get(f"/items/{item.uuid}")
    assert "Nappies, size 4" in group_page and "Lavapiés" in group_page
    assert item_page.status_code == 200 and "Nappies, size 4" in item_page.text
    for page in (group_page, item_page.text):
        assert "Carla" not in page and "carla" not in page and "Mamani" not in page
    landed = (await instance.http.get(response.headers["location"])).text
    assert "Posted. This is how others see it." in landed and "Ask: Nappies, size 4" in landed


async def test_personal_data_is_refused_and_every_field_is_kept(instance: Instance) -> None:
    http = await signed_in_ana(instance)
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        group.region = "NL"  # 0612 345 678 is a Dutch mobile number

    response = await post(http, ask(body="Call me on 0612 345 678 after six", as_group=""))

    assert response.status_code == 400 and 'role="alert"' in response.text
    assert "a phone number" in response.text and "0612 345 678" in response.text
    assert "private reply" in response.text
    for kept in (
        'value="Nappies, size 4"',
        ">Call me on 0612 345 678 after six</textarea>",
        'value="Lavapiés"',
        f'value="{NEEDED_BY}"',
        'value="Europe/Madrid"',
        'value="40.40871"',
    ):
        assert kept in response.text
    assert 'id="visibility-public" name="visibility" value="public" checked' in response.text
    assert 'name="as_group" value="yes" checked' not in response.text
    assert 'value="goods" selected' in response.text
    assert await item_count(instance) == 0


async def test_members_only_items_may_hold_what_would_be_refused_in_public(
    instance: Instance,
) -> None:
    http = await signed_in_ana(instance)

    response = await post(http, ask(body="Call me on 0612 345 678", visibility="members"))

    assert response.status_code == 303
    assert await item_count(instance) == 1


async def test_anonymous_visitors_are_sent_to_sign_in_and_cannot_post(instance: Instance) -> None:
    shown = await instance.http.get("/post")
    posted = await instance.http.post(
        "/post", data={"csrf_token": await csrf(instance.http, "/login"), **ask()}
    )

    for response in (shown, posted):
        assert response.status_code == 303 and response.headers["location"] == "/login?next=/post"
    assert await item_count(instance) == 0


async def test_a_member_cannot_post_into_a_group_she_is_not_in(instance: Instance) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        await actors.create_group(session, "tools", "Tool Library", "Borrow a drill.")
    http = await signed_in_ana(instance)
    form = await http.get("/post?group=tools")
    assert "Tool Library" not in form.text  # only her own groups are offered

    response = await post(http, ask(group="tools"))

    assert response.status_code == 403
    assert await item_count(instance) == 0


async def test_the_form_chooses_no_visibility_and_asks_for_one_marked_on_the_field(
    instance: Instance,
) -> None:
    http = await signed_in_ana(instance)

    form = await http.get("/post")
    response = await post(http, ask(visibility=""))

    # Given nothing chosen for her
    assert 'name="visibility" value="public" checked' not in form.text
    assert 'name="visibility" value="members" checked' not in form.text
    # Then the form comes back asking, the summary linking to the marked choice
    assert response.status_code == 400 and await item_count(instance) == 0
    page = response.text
    assert '<a href="#visibility">Choose who can see it.</a>' in page
    assert 'id="visibility-error">Choose who can see it.</p>' in page
    assert (
        'id="visibility-members" name="visibility" value="members" required '
        'aria-describedby="visibility-members-hint visibility-error" aria-invalid="true"'
    ) in page
    assert 'id="title" name="title" value="Nappies, size 4"' in page  # what was typed is kept


async def test_a_needed_by_date_in_the_past_is_refused_in_its_opened_disclosure(
    instance: Instance,
) -> None:
    http = await signed_in_ana(instance)
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()

    refused = await post(http, ask(needed_by=yesterday, quantity=""))
    today = await post(http, ask(needed_by=datetime.now(UTC).date().isoformat(), timezone="UTC"))

    assert refused.status_code == 400
    page = refused.text
    assert '<a href="#needed_by">The needed-by date has passed' in page
    assert f'value="{yesterday}" aria-describedby="needed_by-hint needed_by-error"' in page
    assert 'aria-invalid="true"' in page
    # its "Add a quantity or a date" disclosure is open, the others with nothing in them closed
    assert '<details class="more" data-kinds="ask offer" open>' in page
    assert '<details class="more" data-kinds="call" data-open-for="call">' in page
    assert today.status_code == 303 and await item_count(instance) == 1


async def test_an_area_is_chosen_from_the_groups_known_places_never_typed_as_numbers(
    instance: Instance,
) -> None:
    http = await signed_in_ana(instance)
    assert (await post(http, ask())).status_code == 303  # Lavapiés, with a point

    form = await http.get("/post")
    chosen = await post(
        http, ask(title="Rice", place_name="", latitude="", longitude="", area="Lavapiés")
    )

    assert '<option value="Lavapiés">Lavapiés</option>' in form.text
    assert chosen.status_code == 303
    async with instance.runtime.sessions() as session:
        rice = await session.scalar(select(Item).where(Item.title == "Rice"))
    assert rice is not None and rice.place_name == "Lavapiés"
    assert rice.latitude is not None and rice.latitude != 40.40871  # the coarse point


async def test_posting_needs_the_csrf_token(instance: Instance) -> None:
    http = await signed_in_ana(instance)
    await http.get("/post")

    response = await http.post("/post", data={"csrf_token": "forged", **ask()})

    assert response.status_code == 403
    assert await item_count(instance) == 0


async def test_the_post_form_is_accessible_and_explains_each_privacy_choice(
    instance: Instance,
) -> None:
    http = await signed_in_ana(instance)

    response = await http.get("/post?kind=call")

    assert response.status_code == 200
    page = Page(response.text)
    assert page.h1 == 1 and page.landmarks == {"header", "nav", "main", "footer"}
    assert page.unlabelled() == [] and len(page.controls) >= 15
    for explanation in (
        "Other servers can keep a copy",
        "The safest choice",
        "never leaves this server",
        "Your name is shown nowhere",
        "never an address",
        "Don't write names, addresses, phone numbers, health or immigration details",
    ):
        assert explanation in response.text
    assert "Markdown" not in response.text
    # No latitude or longitude boxes to type into: a known area, or the browser's location
    assert 'type="hidden" name="latitude"' in response.text
    assert 'id="latitude"' not in response.text
    assert 'id="kind-call" name="kind" value="call" checked' in response.text
    assert '<script src="/static/item-form.js" defer>' in response.text
    assert (await http.get("/static/item-form.js")).status_code == 200


async def test_a_call_needs_a_start_people_and_a_place_and_is_stored_in_its_time_zone(
    instance: Instance,
) -> None:
    http = await signed_in_ana(instance)
    call = ask(
        kind="call", title="Unload the food bank van", quantity="", needed_by="", place_name=""
    )

    refused = await post(http, call)
    posted = await post(
        http,
        call
        | {
            "starts_at": "2026-12-05T10:00",
            "ends_at": "2026-12-05T12:00",
            "people_wanted": "4",
            "place_name": "Market hall",
            "meeting_point": "The side door",
        },
    )

    assert refused.status_code == 400
    for message in ("A call needs a start", "how many people", "needs a place name"):
        assert message in refused.text
    assert posted.status_code == 303
    async with instance.runtime.sessions() as session:
        item = await session.scalar(select(Item))
    assert item is not None and item.kind == "call" and item.status == "scheduled"
    assert item.starts_at is not None and item.starts_at.isoformat() == "2026-12-05T09:00:00+00:00"
    assert (item.people_wanted, item.timezone) == (4, "Europe/Madrid")
    async with instance.runtime.sessions() as session:
        sealed = await escrow.meeting_point(session, instance.runtime.seal, item)
    assert sealed == "The side door"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"title": ""}, "Give it a short title."),
        ({"quantity": "many"}, "The quantity is a whole number"),
        ({"latitude": "200"}, "both a latitude"),
        ({"timezone": "Mars/Olympus"}, "is not a time zone"),
        ({"category": "spaceships"}, "Choose one of this group"),
        ({"kind": "gift"}, "Choose whether this is an ask"),
    ],
)
async def test_bad_values_are_explained_and_nothing_is_stored(
    instance: Instance, fields: dict[str, str], message: str
) -> None:
    http = await signed_in_ana(instance)

    response = await post(http, ask(**fields))

    assert response.status_code == 400 and message in response.text
    assert await item_count(instance) == 0


@pytest.mark.parametrize(
    "data",
    [
        {"group": "food"},
        {
            "group": "food",
            "kind": "call",
            "title": "x\ny",
            "latitude": "nan",
            "longitude": "inf",
            "people_wanted": "0",
            "starts_at": "2026-13-40T99:00",
            "timezone": "../../etc/passwd",
            "visibility": "everyone",
        },
        ask(quantity="99999999999999999999", needed_by="tomorrow", title="t" * 300),
    ],
)
async def test_nonsense_in_any_field_is_a_clear_400_never_a_server_error(
    instance: Instance, data: dict[str, str]
) -> None:
    http = await signed_in_ana(instance)

    response = await post(http, data)

    assert response.status_code == 400 and 'role="alert"' in response.text
    assert await item_count(instance) == 0


async def test_a_refused_invitation_marks_each_field_and_links_to_it(
    instance: Instance,
) -> None:
    token = await invitation(instance)

    response = await join(instance.http, token, username="Carla!", password_again="different")

    assert response.status_code == 400
    page = response.text
    assert '<a href="#username">' in page
    assert 'aria-describedby="username-hint username-error" aria-invalid="true"' in page
    assert '<a href="#password_again">' in page and 'id="password_again-error"' in page
    assert "display_name-error" not in page  # only the fields at fault


async def test_the_group_page_lists_each_item_with_what_people_scan_for(
    instance: Instance,
) -> None:
    http = await signed_in_ana(instance)
    call = ask(
        kind="call",
        title="Unload the van",
        category="other",
        starts_at=(datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT10:00"),
        people_wanted="20",
        place_name="Market hall",
    )
    assert (await post(http, ask())).status_code == 303
    assert (await post(http, call)).status_code == 303

    page = (await anonymous_client(instance).get("/@food")).text

    # the kind in words and a sign, not colour alone; the rest of the line
    assert '<span class="kind kind-ask"><span class="sign" aria-hidden="true">?</span> Ask' in page
    assert (
        '<span class="kind kind-call"><span class="sign" aria-hidden="true">!</span> Call' in page
    )
    assert '<a href="' in page and 'class="title" dir="auto">Nappies, size 4</a>' in page
    assert '<span class="category">Goods</span>' in page
    assert '<span class="place"><bdi>Lavapiés</bdi></span>' in page
    assert "posted <time" in page and ("second ago</time>" in page or "seconds ago</time>" in page)
    assert "needed by <time" in page and "starts <time" in page
    assert '<span class="coming">0 of 20 coming</span>' in page
    assert " UTC</" not in page
    # the filters wait behind a disclosure, so the items come first on a phone
    assert '<details class="filtering">' in page and "<summary>Filters</summary>" in page


async def test_unknown_groups_and_deleted_items_get_styled_404_and_410_pages(
    instance: Instance,
) -> None:
    http = await signed_in_ana(instance)
    location = (await post(http, ask())).headers["location"]
    async with instance.runtime.sessions() as session, session.begin():
        item = await session.scalar(select(Item))
        assert item is not None
        item.deleted_at = item.created_at
    html = {"accept": "text/html"}

    async with anonymous_client(instance) as anonymous:
        unknown = await anonymous.get("/@nobody", headers=html)
        gone = await anonymous.get(location, headers=html)
        plain = await anonymous.get("/@nobody")

    assert unknown.status_code == 404 and gone.status_code == 410
    for response, heading in ((unknown, "Not found"), (gone, "Gone: deleted")):
        page = Page(response.text)
        assert page.h1 == 1 and page.landmarks == {"header", "nav", "main", "footer"}
        assert '<html lang="en">' in response.text and f"<h1>{heading}</h1>" in response.text
    assert "There is no such group or member here." in unknown.text
    assert "This item was deleted." in gone.text
    assert plain.text == "There is no such group or member here."  # not a page for a program
