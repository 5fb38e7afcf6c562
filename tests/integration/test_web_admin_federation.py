"""The admins' federation page: follows between groups, domain blocks with CSV import and export,
and allowlist mode; each change is in force at once for the inbox."""

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select, update

from ayni import following
from inbox import worker
from models import policy
from models.actors import Instance as InstanceRow
from models.actors import LocalActor
from models.follows import Follow
from models.queue import DomainAllow, DomainBlock
from models.remote import RemoteActor
from tests.instances import Instance, Loopback, settle, start_instance
from tests.integration.conftest import A, B
from tests.integration.test_web_admin import add_admin, browser, post
from tests.peers import MastodonPeer
from tests.web import Page, set_password

BASE = "http://127.0.0.1:8101"
PAGE = "/admin/federation"

FORMS = [
    ("/admin/federation/follows", {"group": "food", "handle": "@food@127.0.0.1:8102"}),
    (
        "/admin/federation/follows/delete",
        {"group": "food", "actor": "http://127.0.0.1:8102/actors/food"},
    ),
    ("/admin/federation/blocks", {"domain": "evil.example", "reason": "x"}),
    ("/admin/federation/blocks/delete", {"domain": "kept.example"}),
    ("/admin/federation/blocks/import", {"csv": "evil.example\n"}),
    ("/admin/federation/mode", {"mode": "allowlist"}),
    ("/admin/federation/allowed", {"domain": "evil.example"}),
    ("/admin/federation/allowed/delete", {"domain": "kept.example"}),
    ("/admin/federation/allies", {"group": "food", "handle": "@food@127.0.0.1:8102"}),
]


@pytest.fixture
async def admin(instance: Instance) -> AsyncIterator[httpx.AsyncClient]:
    await add_admin(instance)
    async with browser(instance, "root") as http:
        yield http


async def policy_state(instance: Instance) -> tuple[object, ...]:
    async with instance.runtime.sessions() as session:
        return (
            await session.scalar(select(InstanceRow.federation_mode)),
            sorted((b.domain, b.reason) for b in await session.scalars(select(DomainBlock))),
            sorted(await session.scalars(select(DomainAllow.domain))),
            await session.scalar(select(func.count()).select_from(Follow)),
            await session.scalar(select(func.count()).select_from(RemoteActor)),
        )


async def seed_policy(instance: Instance) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        await policy.block_domain(session, "kept.example", "kept")
        await policy.allow_domain(session, "kept.example")


async def test_anonymous_visitors_are_sent_to_sign_in(instance: Instance) -> None:
    for path in (PAGE, f"{PAGE}/blocks.csv"):
        response = await instance.http.get(path)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}"


async def test_a_group_admin_cannot_see_the_page_or_the_export(instance: Instance) -> None:
    await set_password(instance)
    async with browser(instance, "ana") as ana:
        for path in (PAGE, f"{PAGE}/blocks.csv"):
            assert (await ana.get(path)).status_code == 403


@pytest.mark.parametrize("path, data", FORMS)
async def test_a_group_admin_cannot_use_the_federation_forms_and_nothing_changes(
    instance: Instance, path: str, data: dict[str, str]
) -> None:
    await seed_policy(instance)
    await set_password(instance)
    before = await policy_state(instance)

    async with browser(instance, "ana") as ana:
        response = await post(ana, path, data, page="/")

    assert response.status_code == 403
    assert await policy_state(instance) == before


@pytest.mark.parametrize("path, data", FORMS)
async def test_federation_forms_without_the_csrf_token_are_refused(
    instance: Instance, admin: httpx.AsyncClient, path: str, data: dict[str, str]
) -> None:
    await seed_policy(instance)
    before = await policy_state(instance)

    missing = await admin.post(path, data=data)
    forged = await admin.post(path, data={**data, "csrf_token": "forged"})

    assert missing.status_code == 403 and forged.status_code == 403
    assert await policy_state(instance) == before


async def test_the_page_has_one_h1_labelled_controls_and_the_allowlist_warning(
    instance: Instance, admin: httpx.AsyncClient
) -> None:
    await seed_policy(instance)

    response = await admin.get(PAGE)
    page = Page(response.text)

    assert response.status_code == 200
    assert page.h1 == 1 and page.unlabelled() == []
    assert {"header", "nav", "main", "footer"} <= page.landmarks
    assert (
        "Allowlist mode stops federation with every server that is not on the list" in response.text
    )
    assert "kept.example" in response.text and "Unblock kept.example" in response.text


@pytest.fixture
async def peer_and_instance(
    database_url: str,
) -> AsyncIterator[tuple[Instance, MastodonPeer, httpx.AsyncClient]]:
    """An instance with an admin signed in, and a Mastodon-shaped peer on 127.0.0.1:8201."""
    network = Loopback()
    peer = MastodonPeer("http://127.0.0.1:8201", network)
    network.add(peer.host, peer.app)
    async with start_instance(BASE, database_url, network) as instance:
        await add_admin(instance)
        async with browser(instance, "root") as http:
            yield instance, peer, http
    await peer.aclose()


async def test_blocking_a_domain_on_the_page_refuses_its_traffic_at_once(
    peer_and_instance: tuple[Instance, MastodonPeer, httpx.AsyncClient],
) -> None:
    instance, peer, admin = peer_and_instance
    assert await instance.runtime.blocklist.blocks(peer.host) is False  # the rules are now cached

    response = await post(
        admin, f"{PAGE}/blocks", {"domain": "127.0.0.1", "reason": "test block"}, PAGE
    )
    inbox = await peer.send(f"{BASE}/inbox", peer.follow(f"{BASE}/actors/food"))

    assert response.status_code == 303 and response.headers["location"] == f"{PAGE}#main"
    assert inbox.status_code == 403
    assert await instance.runtime.blocklist.blocks(peer.host)
    async with instance.runtime.sessions() as session:
        assert [(b.domain, b.reason) for b in await policy.blocked_domains(session)] == [
            ("127.0.0.1", "test block")
        ]
    assert "127.0.0.1 and its subdomains are blocked" in (await admin.get(PAGE)).text


async def test_unblocking_on_the_page_lets_the_domain_in_again(
    peer_and_instance: tuple[Instance, MastodonPeer, httpx.AsyncClient],
) -> None:
    instance, peer, admin = peer_and_instance
    await post(admin, f"{PAGE}/blocks", {"domain": "127.0.0.1"}, PAGE)

    response = await post(admin, f"{PAGE}/blocks/delete", {"domain": "127.0.0.1"}, PAGE)
    inbox = await peer.send(f"{BASE}/inbox", peer.follow(f"{BASE}/actors/food"))

    assert response.status_code == 303
    assert inbox.status_code == 202
    assert await worker.run_once(instance.runtime) == 1
    assert "127.0.0.1 is no longer blocked." in (await admin.get(PAGE)).text


@pytest.mark.parametrize(
    "path, data, error",
    [
        (f"{PAGE}/blocks", {"domain": "not a domain!", "reason": "why"}, "not a domain!"),
        (f"{PAGE}/blocks", {"domain": "", "reason": "why"}, "is not a domain name"),
        (
            f"{PAGE}/blocks",
            {"domain": "fine.example", "reason": "r" * 1001},
            "The reason is too long",
        ),
        (f"{PAGE}/blocks/delete", {"domain": "never.example"}, "never.example is not blocked."),
        (f"{PAGE}/allowed", {"domain": "bad_domain!"}, "bad_domain! is not a domain name"),
        (
            f"{PAGE}/allowed/delete",
            {"domain": "never.example"},
            "never.example is not on the allowlist.",
        ),
        (f"{PAGE}/mode", {"mode": "everything"}, "Choose open federation or allowlist mode."),
        (f"{PAGE}/blocks/import", {"csv": "  "}, "Paste a block list or choose a CSV file."),
    ],
)
async def test_bad_input_is_refused_with_a_clear_error_and_nothing_changes(
    instance: Instance, admin: httpx.AsyncClient, path: str, data: dict[str, str], error: str
) -> None:
    before = await policy_state(instance)

    response = await post(admin, path, data, PAGE)

    assert response.status_code in (400, 404)
    assert 'role="alert"' in response.text and error in response.text
    assert await policy_state(instance) == before
    if path.endswith("/blocks") and data["domain"]:
        assert f'value="{data["domain"]}"' in response.text  # what was typed is kept


IMPORTED = (
    "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"
    "spam.example,suspend,true,true,spam waves,false\n"
    "muted.example,silence,false,false,,false\n"
    "bad domain!,suspend,true,true,,false\n"
    "*.wild.example,suspend,true,true,wildcard,false\n"
)


async def test_importing_a_pasted_list_blocks_the_good_rows_and_reports_the_bad(
    instance: Instance, admin: httpx.AsyncClient
) -> None:
    response = await post(admin, f"{PAGE}/blocks/import", {"csv": IMPORTED}, PAGE)

    assert response.status_code == 200
    assert "Blocked 2 domains." in response.text and "2 rows were skipped." in response.text
    assert (
        "line 3: muted.example: severity &#39;silence&#39; is not a block; skipped" in response.text
    )
    assert "line 4: &#39;bad domain!&#39; is not a domain name" in response.text
    assert Page(response.text).h1 == 1
    async with instance.runtime.sessions() as session:
        blocks = [(b.domain, b.reason) for b in await policy.blocked_domains(session)]
    assert blocks == [("spam.example", "spam waves"), ("wild.example", "wildcard")]
    assert await instance.runtime.blocklist.blocks("social.wild.example")


async def test_importing_an_uploaded_file(instance: Instance, admin: httpx.AsyncClient) -> None:
    token = Page((await admin.get(PAGE)).text).csrf
    assert token

    response = await admin.post(
        f"{PAGE}/blocks/import",
        data={"csrf_token": token, "csv": ""},
        files={"file": ("domain_blocks.csv", ("\ufeff" + IMPORTED).encode(), "text/csv")},
    )

    assert response.status_code == 200 and "Blocked 2 domains." in response.text
    async with instance.runtime.sessions() as session:
        assert [b.domain for b in await policy.blocked_domains(session)] == [
            "spam.example",
            "wild.example",
        ]


async def test_an_upload_that_is_too_large_or_not_text_is_refused(
    instance: Instance, admin: httpx.AsyncClient
) -> None:
    token = Page((await admin.get(PAGE)).text).csrf
    assert token
    huge = ("x.example\n" * 60_000).encode()

    too_large = await admin.post(
        f"{PAGE}/blocks/import",
        data={"csrf_token": token},
        files={"file": ("big.csv", huge, "text/csv")},
    )
    binary = await admin.post(
        f"{PAGE}/blocks/import",
        data={"csrf_token": token},
        files={"file": ("x.csv", b"\xff\xfe\x00bad", "text/csv")},
    )
    two_files = await admin.post(
        f"{PAGE}/blocks/import",
        data={"csrf_token": token},
        files=[
            ("file", ("a.csv", b"a.example\n", "text/csv")),
            ("file", ("b.csv", b"b.example\n", "text/csv")),
        ],
    )

    assert too_large.status_code == 413
    assert binary.status_code == 400 and "The file is not UTF-8 text." in binary.text
    assert two_files.status_code == 400
    async with instance.runtime.sessions() as session:
        assert await policy.blocked_domains(session) == []


async def test_the_export_downloads_a_csv_that_imports_back_the_same_blocks(
    instance: Instance, admin: httpx.AsyncClient
) -> None:
    await post(
        admin,
        f"{PAGE}/blocks",
        {"domain": "Harass.Example", "reason": "harassment, repeated"},
        PAGE,
    )
    await post(admin, f"{PAGE}/blocks", {"domain": "spam.example"}, PAGE)

    exported = await admin.get(f"{PAGE}/blocks.csv")
    for domain in ("harass.example", "spam.example"):
        await post(admin, f"{PAGE}/blocks/delete", {"domain": domain}, PAGE)
    reimported = await post(admin, f"{PAGE}/blocks/import", {"csv": exported.text}, PAGE)

    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"] == 'attachment; filename="domain_blocks.csv"'
    assert exported.text.splitlines()[0] == ",".join(policy.CSV_COLUMNS)
    assert "Blocked 2 domains." in reimported.text
    async with instance.runtime.sessions() as session:
        blocks = [(b.domain, b.reason) for b in await policy.blocked_domains(session)]
    assert blocks == [("harass.example", "harassment, repeated"), ("spam.example", "")]


@pytest.fixture
async def friend_and_stranger(
    database_url: str,
) -> AsyncIterator[tuple[Instance, MastodonPeer, MastodonPeer, httpx.AsyncClient]]:
    network = Loopback()
    friend = MastodonPeer("http://localhost:8201", network, username="friend")
    stranger = MastodonPeer("http://127.0.0.1:8202", network, username="stranger")
    for peer in (friend, stranger):
        network.add(peer.host, peer.app)
    async with start_instance(BASE, database_url, network) as instance:
        await add_admin(instance)
        async with browser(instance, "root") as http:
            yield instance, friend, stranger, http
    await friend.aclose()
    await stranger.aclose()


async def test_switching_to_allowlist_mode_on_the_page_lets_in_only_allowed_domains(
    friend_and_stranger: tuple[Instance, MastodonPeer, MastodonPeer, httpx.AsyncClient],
) -> None:
    instance, friend, stranger, admin = friend_and_stranger
    group = f"{BASE}/actors/food"
    assert not await instance.runtime.blocklist.blocks(stranger.host)  # open, and cached

    allowed = await post(admin, f"{PAGE}/allowed", {"domain": "LOCALHOST"}, PAGE)
    switched = await post(admin, f"{PAGE}/mode", {"mode": "allowlist"}, PAGE)
    page = (await admin.get(PAGE)).text
    refused = await stranger.send(f"{BASE}/inbox", stranger.follow(group))
    accepted = await friend.send(f"{BASE}/inbox", friend.follow(group))

    assert allowed.status_code == 303 and switched.status_code == 303
    assert "Allowlist mode is on" in page and "Now: allowlist mode." in page
    assert refused.status_code == 403 and accepted.status_code == 202

    removed = await post(admin, f"{PAGE}/allowed/delete", {"domain": "localhost"}, PAGE)
    refused_now = await friend.send(f"{BASE}/inbox", friend.follow(group))
    reopened = await post(admin, f"{PAGE}/mode", {"mode": "open"}, PAGE)
    welcome_again = await stranger.send(f"{BASE}/inbox", stranger.follow(group))

    assert removed.status_code == 303 and refused_now.status_code == 403
    assert reopened.status_code == 303 and welcome_again.status_code == 202
    async with instance.runtime.sessions() as session:
        assert await session.scalar(select(InstanceRow.federation_mode)) == policy.Mode.OPEN


@pytest.fixture
async def pair_admin(
    pair: tuple[Instance, Instance],
) -> AsyncIterator[tuple[Instance, Instance, httpx.AsyncClient]]:
    """The `pair`, and an admin of the second signed in."""
    a, b = pair
    await add_admin(b)
    async with browser(b, "root") as http:
        yield a, b, http


async def test_an_admin_makes_a_group_follow_a_group_on_another_instance_by_handle(
    pair_admin: tuple[Instance, Instance, httpx.AsyncClient],
) -> None:
    a, b, admin = pair_admin

    response = await post(
        admin, f"{PAGE}/follows", {"group": "food", "handle": "@food@127.0.0.1:8101"}, PAGE
    )
    pending = (await admin.get(PAGE)).text
    await settle(a, b)
    on_a = await following.relations(a.runtime, "food")
    accepted = (await admin.get(PAGE)).text

    assert response.status_code == 303 and response.headers["location"] == f"{PAGE}#main"
    assert (
        "food asked to follow http://127.0.0.1:8101/actors/food" in pending and "pending" in pending
    )
    assert [(r.direction, r.state, r.actor_uri) for r in on_a] == [
        ("inbound", "accepted", f"{B}/actors/food")
    ]
    assert "@food@127.0.0.1:8101" in accepted and "accepted" in accepted
    assert "Unfollow @food@127.0.0.1:8101" in accepted


async def test_an_admin_can_follow_by_the_groups_address_and_unfollow(
    pair_admin: tuple[Instance, Instance, httpx.AsyncClient],
) -> None:
    a, b, admin = pair_admin
    await post(admin, f"{PAGE}/follows", {"group": "food", "handle": f"{A}/actors/food"}, PAGE)
    await settle(a, b)
    assert [r.state for r in await following.relations(a.runtime, "food")] == ["accepted"]

    response = await post(
        admin, f"{PAGE}/follows/delete", {"group": "food", "actor": f"{A}/actors/food"}, PAGE
    )
    await settle(a, b)

    assert response.status_code == 303
    assert await following.relations(b.runtime, "food") == []
    assert await following.relations(a.runtime, "food") == []
    assert (
        "food no longer follows http://127.0.0.1:8101/actors/food." in (await admin.get(PAGE)).text
    )


async def test_an_admin_demoted_while_the_handle_is_looked_up_follows_nothing(
    pair_admin: tuple[Instance, Instance, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, admin = pair_admin
    lookup = following.resolve_actor

    async def demoted_meanwhile(runtime: object, handle: str) -> RemoteActor:
        async with b.runtime.sessions() as session, session.begin():
            await session.execute(
                update(LocalActor).where(LocalActor.username == "root").values(is_admin=False)
            )
        return await lookup(runtime, handle)  # type: ignore[arg-type]

    monkeypatch.setattr(following, "resolve_actor", demoted_meanwhile)
    response = await post(
        admin, f"{PAGE}/follows", {"group": "food", "handle": "@food@127.0.0.1:8101"}, PAGE
    )
    await settle(a, b)

    assert response.status_code == 403
    async with b.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Follow)) == 0
    assert await following.relations(a.runtime, "food") == []


@pytest.mark.parametrize(
    "group, handle, error",
    [
        ("food", "@nobody@127.0.0.1:8101", "@nobody@127.0.0.1:8101 could not be found"),
        ("food", "@food@127.0.0.1:8999", "@food@127.0.0.1:8999 could not be found"),
        ("food", "not a handle", "not a handle could not be found"),
        ("food", "", "Enter a handle like @group@example.org"),
        ("nope", "@food@127.0.0.1:8101", "Choose one of this instance&#39;s groups."),
        ("root", "@food@127.0.0.1:8101", "Choose one of this instance&#39;s groups."),
    ],
)
async def test_a_follow_that_cannot_be_resolved_is_refused_and_nothing_is_stored(
    pair_admin: tuple[Instance, Instance, httpx.AsyncClient], group: str, handle: str, error: str
) -> None:
    a, b, admin = pair_admin

    response = await post(admin, f"{PAGE}/follows", {"group": group, "handle": handle}, PAGE)
    await settle(a, b)

    assert response.status_code == 400
    assert 'role="alert"' in response.text and error in response.text
    assert await following.relations(b.runtime, "food") == []
    assert await following.relations(a.runtime, "food") == []
    async with b.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Follow)) == 0


async def test_unfollowing_what_is_not_followed_is_refused(
    pair_admin: tuple[Instance, Instance, httpx.AsyncClient],
) -> None:
    _, _, admin = pair_admin

    response = await post(
        admin, f"{PAGE}/follows/delete", {"group": "food", "actor": f"{A}/actors/food"}, PAGE
    )

    assert response.status_code == 404 and "That group does not follow that actor." in response.text


async def test_an_admin_marks_a_mutual_follower_as_no_ally_and_back_on_the_page(
    pair_admin: tuple[Instance, Instance, httpx.AsyncClient],
) -> None:
    a, b, admin = pair_admin
    await following.follow_handle(a.runtime, "food", "@food@127.0.0.1:8102")
    await post(admin, f"{PAGE}/follows", {"group": "food", "handle": "@food@127.0.0.1:8101"}, PAGE)
    await settle(a, b)
    mutual = (await admin.get(PAGE)).text

    off = await post(
        admin,
        f"{PAGE}/allies",
        {"group": "food", "handle": "@food@127.0.0.1:8101", "allied": "no"},
        PAGE,
    )
    after_off = (await admin.get(PAGE)).text
    on = await post(admin, f"{PAGE}/allies", {"group": "food", "handle": f"{A}/actors/food"}, PAGE)
    after_on = (await admin.get(PAGE)).text
    missing = await post(
        admin, f"{PAGE}/allies", {"group": "food", "handle": "@nobody@127.0.0.1:8109"}, PAGE
    )

    assert f'Allies: <a href="{A}/actors/food">' in mutual
    assert off.status_code == 303 and on.status_code == 303
    assert "does not count http://127.0.0.1:8101/actors/food as an ally" in after_off
    assert "Allies: none" in after_off
    assert f'Allies: <a href="{A}/actors/food">' in after_on
    assert missing.status_code == 400 and "could not be found" in missing.text
