"""The instance admins' pages: overview, instance settings, groups, members and queue health.

`root` is an instance admin; `ana` (the seeded member) runs the group `food` but is not an
instance admin, so every admin page must refuse her and change nothing.
"""

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from models import actors
from models.actors import ActorType, LocalActor, Membership, Role
from models.actors import Instance as InstanceRow
from models.base import utcnow
from models.queue import Activity, Delivery, Host
from tests.instances import Instance
from tests.web import PASSWORD, Page, csrf, set_password, sign_in

ADMIN_PAGES = ["/admin", "/admin/instance", "/admin/groups", "/admin/members", "/admin/queue"]


async def add_admin(instance: Instance, username: str = "root") -> int:
    async with instance.runtime.sessions() as session, session.begin():
        return (
            await actors.create_member(
                session, username, PASSWORD, f"Admin {username}", is_admin=True
            )
        ).id


@contextlib.asynccontextmanager
async def browser(
    instance: Instance, username: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of its own (its own cookies), signed in as `username` when one is given."""
    transport = httpx.ASGITransport(app=instance.app)
    async with httpx.AsyncClient(transport=transport, base_url=instance.settings.base_url) as http:
        if username is not None:
            assert (await sign_in(http, username, PASSWORD)).status_code == 303
        yield http


@pytest.fixture
async def admin(instance: Instance) -> AsyncIterator[httpx.AsyncClient]:
    await add_admin(instance)
    async with browser(instance, "root") as http:
        yield http


@pytest.fixture
async def group_admin(instance: Instance) -> AsyncIterator[httpx.AsyncClient]:
    """ana: an admin of the group `food`, not of the instance."""
    await set_password(instance)
    async with browser(instance, "ana") as http:
        yield http


async def post(
    http: httpx.AsyncClient, path: str, data: dict[str, str], page: str = "/admin"
) -> httpx.Response:
    return await http.post(path, data={"csrf_token": await csrf(http, page), **data})


async def snapshot(instance: Instance) -> tuple[object, ...]:
    """What the admin forms could change, to check that a refused form changed nothing."""
    async with instance.runtime.sessions() as session:
        row = await session.scalar(select(InstanceRow))
        assert row is not None
        people = sorted(
            (a.username, a.type, a.is_admin) for a in await session.scalars(select(LocalActor))
        )
        memberships = sorted(
            (m.group_id, m.member_id, m.role) for m in await session.scalars(select(Membership))
        )
        due = sorted((d.id, d.next_attempt_at) for d in await session.scalars(select(Delivery)))
        return row.name, row.summary, people, memberships, due


FORMS = [
    ("/admin/instance", {"name": "Taken over", "summary": "x"}),
    ("/admin/groups", {"name": "evil", "title": "Evil", "admin": "ana"}),
    ("/admin/members/{ana}/admin", {"is_admin": "1"}),
    ("/admin/queue/retry", {"host": "remote.example"}),
]


async def member_id(instance: Instance, username: str) -> int:
    async with instance.runtime.sessions() as session:
        found = await actors.find_actor(session, username)
        assert found is not None
        return found.id


@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_anonymous_visitors_are_sent_to_sign_in(instance: Instance, path: str) -> None:
    response = await instance.http.get(path)

    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"


@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_a_group_admin_who_is_not_an_instance_admin_is_refused(
    instance: Instance, group_admin: httpx.AsyncClient, path: str
) -> None:
    response = await group_admin.get(path, headers={"Accept": "text/html"})

    assert response.status_code == 403
    assert "Only the instance" in response.text


@pytest.mark.parametrize("path, data", FORMS)
async def test_a_group_admin_cannot_use_the_admin_forms_and_nothing_changes(
    instance: Instance, group_admin: httpx.AsyncClient, path: str, data: dict[str, str]
) -> None:
    before = await snapshot(instance)

    response = await post(
        group_admin, path.format(ana=await member_id(instance, "ana")), data, page="/"
    )

    assert response.status_code == 403
    assert await snapshot(instance) == before


@pytest.mark.parametrize("path, data", FORMS)
@pytest.mark.parametrize("token", [None, "forged"])
async def test_admin_forms_without_the_sessions_csrf_token_are_refused(
    instance: Instance, admin: httpx.AsyncClient, path: str, data: dict[str, str], token: str | None
) -> None:
    before = await snapshot(instance)
    sent = {**data, "csrf_token": token} if token else data

    response = await admin.post(path.format(ana=await member_id(instance, "ana")), data=sent)

    assert response.status_code == 403
    assert await snapshot(instance) == before


@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_admin_pages_have_one_h1_landmarks_and_labelled_controls(
    instance: Instance, admin: httpx.AsyncClient, path: str
) -> None:
    response = await admin.get(path)
    page = Page(response.text)

    assert response.status_code == 200
    assert page.h1 == 1
    assert {"header", "nav", "main", "footer"} <= page.landmarks
    assert page.unlabelled() == []
    assert 'aria-label="Administration"' in response.text


async def test_the_overview_counts_groups_members_and_the_queue(
    instance: Instance, admin: httpx.AsyncClient
) -> None:
    await add_queue_rows(instance)

    text = (await admin.get("/admin")).text

    assert '<dt><a href="/admin/groups">Groups</a></dt><dd>1</dd>' in text
    assert '<dt><a href="/admin/members">Members</a></dt><dd>2</dd>' in text  # ana and root
    assert "Deliveries due now</a></dt><dd>1</dd>" in text
    assert "Deliveries that failed</a></dt><dd>1</dd>" in text
    assert "Unavailable servers</a></dt><dd>1</dd>" in text
    assert "Open: every domain but the blocked ones" in text


async def test_an_admin_names_the_instance_and_the_home_page_shows_it(
    instance: Instance, admin: httpx.AsyncClient
) -> None:
    home_before = (await instance.http.get("/")).text

    saved = await post(
        admin,
        "/admin/instance",
        {"name": "Barrio Solidario", "summary": "Mutual aid in the barrio."},
        "/admin/instance",
    )
    after = await admin.get("/admin/instance")
    home = (await instance.http.get("/")).text

    assert "<h1>127.0.0.1:8101</h1>" in home_before
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/instance#main"
    assert (
        "The instance settings were saved." in after.text
        and 'value="Barrio Solidario"' in after.text
    )
    assert "<h1>Barrio Solidario</h1>" in home and "Mutual aid in the barrio." in home
    assert (
        "The instance settings were saved." not in (await admin.get("/admin/instance")).text
    )  # shown once


@pytest.mark.parametrize(
    "name, summary, error",
    [
        ("x" * 201, "kept", "The name is too long: at most 200 characters."),
        ("two\nlines", "kept", "The name must be one line of text."),
        ("fine", "y" * 2001, "The summary is too long: at most 2000 characters."),
    ],
)
async def test_instance_settings_out_of_bounds_are_refused_and_what_was_typed_is_kept(
    instance: Instance, admin: httpx.AsyncClient, name: str, summary: str, error: str
) -> None:
    before = await snapshot(instance)

    response = await post(
        admin, "/admin/instance", {"name": name, "summary": summary}, "/admin/instance"
    )

    assert response.status_code == 400
    assert 'role="alert"' in response.text and error in response.text
    assert summary[:50] in response.text
    assert await snapshot(instance) == before


async def test_an_admin_creates_a_group_with_its_own_admin(
    instance: Instance, admin: httpx.AsyncClient
) -> None:
    response = await post(
        admin,
        "/admin/groups",
        {
            "name": "tools",
            "title": "Tool Library",
            "summary": "Borrow a drill.",
            "manual_approval": "1",
            "admin": "@ana",
        },
        "/admin/groups",
    )
    listing = (await admin.get("/admin/groups")).text
    public = await instance.http.get("/@tools")

    assert response.status_code == 303 and response.headers["location"] == "/admin/groups#main"
    assert "The group tools was created." in listing
    assert (
        'href="/groups/tools/moderation"' in listing and 'href="/groups/tools/members"' in listing
    )
    assert public.status_code == 200 and "Tool Library" in public.text
    async with instance.runtime.sessions() as session:
        tools = await actors.find_actor(session, "tools")
        ana = await actors.find_actor(session, "ana")
        assert tools is not None and ana is not None
        assert (
            tools.type == ActorType.GROUP
            and tools.manually_approves_followers
            and tools.summary == "Borrow a drill."
        )
        role = await session.scalar(
            select(Membership.role).where(
                Membership.group_id == tools.id, Membership.member_id == ana.id
            )
        )
        assert role == Role.ADMIN


@pytest.mark.parametrize(
    "fields, error",
    [
        ({"name": "Bad Name!", "title": "T"}, "1 to 30 lowercase letters"),
        ({"name": "food", "title": "Again"}, "The name food is already taken"),
        ({"name": "ana", "title": "Clash"}, "The name ana is already taken"),
        ({"name": "tools", "title": ""}, "A group needs a title."),
        (
            {"name": "tools", "title": "Tools", "admin": "nobody"},
            "There is no member named nobody.",
        ),
        ({"name": "tools", "title": "Tools", "admin": "food"}, "There is no member named food."),
    ],
)
async def test_a_group_that_cannot_be_created_is_refused_with_nothing_stored(
    instance: Instance, admin: httpx.AsyncClient, fields: dict[str, str], error: str
) -> None:
    before = await snapshot(instance)

    response = await post(admin, "/admin/groups", fields, "/admin/groups")

    assert response.status_code == 400
    assert error in response.text and 'role="alert"' in response.text
    assert f'value="{fields["title"]}"' in response.text
    assert await snapshot(instance) == before
    assert Page(response.text).unlabelled() == []


async def test_an_admin_grants_and_revokes_instance_admin(
    instance: Instance, admin: httpx.AsyncClient
) -> None:
    ana = await member_id(instance, "ana")
    await set_password(instance)

    granted = await post(admin, f"/admin/members/{ana}/admin", {"is_admin": "1"}, "/admin/members")
    async with browser(instance, "ana") as as_ana:
        reachable = (await as_ana.get("/admin")).status_code
    revoked = await post(admin, f"/admin/members/{ana}/admin", {"is_admin": "0"}, "/admin/members")
    async with browser(instance, "ana") as as_ana:
        refused = (await as_ana.get("/admin")).status_code

    assert granted.status_code == 303 and revoked.status_code == 303
    assert reachable == 200 and refused == 403
    assert "ana is no longer an instance admin." in (await admin.get("/admin/members")).text


async def test_the_last_instance_admin_cannot_be_removed(
    instance: Instance, admin: httpx.AsyncClient
) -> None:
    root = await member_id(instance, "root")

    response = await post(
        admin, f"/admin/members/{root}/admin", {"is_admin": "0"}, "/admin/members"
    )

    assert response.status_code == 400
    assert "root is the last instance admin" in response.text and 'role="alert"' in response.text
    async with instance.runtime.sessions() as session:
        still = await session.get(LocalActor, root)
        assert still is not None and still.is_admin


async def test_changing_the_role_of_a_group_or_an_unknown_id_is_refused(
    instance: Instance, admin: httpx.AsyncClient
) -> None:
    food = await member_id(instance, "food")
    before = await snapshot(instance)

    group = await post(admin, f"/admin/members/{food}/admin", {"is_admin": "1"}, "/admin/members")
    unknown = await post(admin, "/admin/members/999999/admin", {"is_admin": "1"}, "/admin/members")

    assert group.status_code == 404 and unknown.status_code == 404
    assert await snapshot(instance) == before


async def add_queue_rows(instance: Instance) -> None:
    """One delivery due to remote.example (an unavailable host), one failed to other.example."""
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        activity = Activity(
            uri="http://127.0.0.1:8101/activities/1",
            type="Create",
            actor_id=food.id,
            document={},
            visibility="public",
            audience={},
        )
        session.add(activity)
        await session.flush()
        later = utcnow() + timedelta(hours=3)
        session.add_all(
            [
                Delivery(
                    activity_id=activity.id,
                    inbox_uri="https://remote.example/inbox",
                    host="remote.example",
                    next_attempt_at=utcnow() - timedelta(minutes=5),
                    attempts=3,
                    last_status=503,
                    last_error="Service Unavailable",
                ),
                Delivery(
                    activity_id=activity.id,
                    inbox_uri="https://remote.example/users/x/inbox",
                    host="remote.example",
                    next_attempt_at=later,
                ),
                Delivery(
                    activity_id=activity.id,
                    inbox_uri="https://other.example/inbox",
                    host="other.example",
                    state="failed",
                ),
                Host(
                    host="remote.example",
                    consecutive_failures=7,
                    first_failure_at=utcnow() - timedelta(days=2),
                    unavailable_since=utcnow() - timedelta(days=1),
                ),
            ]
        )


async def test_the_queue_page_shows_states_waiting_servers_and_unavailable_ones(
    instance: Instance, admin: httpx.AsyncClient
) -> None:
    await add_queue_rows(instance)

    text = (await admin.get("/admin/queue")).text

    assert "<td>Pending</td><td>2</td>" in text and "<td>Failed</td><td>1</td>" in text
    assert "<td>remote.example</td>" in text
    assert "<td>3</td><td><code>503: Service Unavailable</code></td>" in text  # attempts, error
    assert "7 failures in a row" in text
    assert "Retry remote.example now" in text


async def test_retrying_a_host_makes_its_deliveries_due_and_forgets_its_failures(
    instance: Instance, admin: httpx.AsyncClient
) -> None:
    await add_queue_rows(instance)

    response = await post(admin, "/admin/queue/retry", {"host": "Remote.Example"}, "/admin/queue")
    page = (await admin.get("/admin/queue")).text

    assert response.status_code == 303 and response.headers["location"] == "/admin/queue#main"
    assert "2 deliveries to remote.example are due now." in page
    async with instance.runtime.sessions() as session:
        host = await session.scalar(select(Host).where(Host.host == "remote.example"))
        assert (
            host is not None and host.unavailable_since is None and host.consecutive_failures == 0
        )
        dues = list(
            await session.scalars(
                select(Delivery.next_attempt_at).where(Delivery.host == "remote.example")
            )
        )
        assert all(due <= utcnow() for due in dues)


@pytest.mark.parametrize("host", ["", "two words", "x" * 300])
async def test_retrying_needs_a_host(
    instance: Instance, admin: httpx.AsyncClient, host: str
) -> None:
    response = await post(admin, "/admin/queue/retry", {"host": host}, "/admin/queue")

    assert response.status_code == 400
    assert 'role="alert"' in response.text and "Enter a host" in response.text


async def test_a_refused_group_is_marked_on_its_field_and_the_page_returns_to_the_form(
    admin: httpx.AsyncClient,
) -> None:
    page = (await admin.get("/admin/groups")).text
    response = await post(
        admin, "/admin/groups", {"name": "tools", "title": "", "admin": ""}, "/admin/groups"
    )

    # the form posts to its own section, so the answer opens scrolled to it
    assert 'action="/admin/groups#create-heading"' in page
    assert response.status_code == 400
    assert '<p class="error" role="alert" id="create-error">A group needs a title.</p>' in (
        response.text
    )
    assert 'name="title" value="" required' in response.text
    assert 'aria-invalid="true" aria-describedby="create-error"' in response.text
