"""Sessions end when they should, whoever holds a copy of the cookie; the login limits hold
whatever X-Forwarded-For says, and believe it only from trusted proxies.

People: ana (admin of food), mo (moderator of food), ben (member of food), bo (books)."""

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, update

from ayni.settings import load
from ayni.web.logins import LoginAttempts
from federation.addresses import parse_networks
from models import actors, member_sessions, passwords
from models.base import utcnow
from models.member_sessions import MemberSession
from models.settings import DEFAULT_TRUSTED_PROXIES, Settings
from tests.instances import Instance, settings_for, start_instance
from tests.integration.test_web_moderation import add_people, browser
from tests.web import PASSWORD, csrf, sign_in, signed_in_as


@contextlib.asynccontextmanager
async def copy_of(
    instance: Instance, signed_in: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser holding a copy of `signed_in`'s cookie, as a thief would."""
    transport = httpx.ASGITransport(app=instance.app)
    async with httpx.AsyncClient(
        transport=transport, base_url=instance.settings.base_url, cookies=dict(signed_in.cookies)
    ) as thief:
        yield thief


async def sees_own_items(http: httpx.AsyncClient) -> bool:
    """Whether the session still opens a members' page (a 303 to /login when it does not)."""
    response = await http.get("/my/items")
    return response.status_code == 200


@pytest.fixture
async def people(instance: Instance) -> Instance:
    await add_people(instance)
    return instance


async def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(people: Instance) -> None:
    async with browser(people, "ben") as ben, copy_of(people, ben) as thief:
        assert await sees_own_items(thief) and await signed_in_as(thief) == "ben"

        token = await csrf(ben, "/my/items")
        assert (await ben.post("/logout", data={"csrf_token": token})).status_code == 303

        assert not await sees_own_items(thief)
        assert await signed_in_as(thief) is None
        assert not await sees_own_items(ben)


async def test_signing_out_in_one_browser_leaves_the_others_signed_in(people: Instance) -> None:
    async with browser(people, "ben") as phone, browser(people, "ben") as laptop:
        token = await csrf(phone, "/my/items")
        await phone.post("/logout", data={"csrf_token": token})

        assert await sees_own_items(laptop)


async def test_a_new_password_ends_every_session_of_that_member(people: Instance) -> None:
    async with browser(people, "ben") as ben, browser(people, "mo") as mo:
        async with people.runtime.sessions() as session, session.begin():
            member = await actors.find_actor(session, "ben")
            assert member is not None
            ended = await member_sessions.new_password(
                session, member, passwords.hash_password("a brand new one")
            )

        assert ended == 1
        assert not await sees_own_items(ben)
        assert await sees_own_items(mo)  # nobody else's
        assert (await sign_in(ben, "ben", "a brand new one")).status_code == 303


async def test_removing_a_member_from_the_group_ends_her_sessions(people: Instance) -> None:
    async with browser(people, "ana") as ana, browser(people, "ben") as ben:
        async with people.runtime.sessions() as session:
            member = await actors.find_actor(session, "ben")
            assert member is not None
        token = await csrf(ana, "/groups/food/members")

        removed = await ana.post(
            f"/groups/food/members/{member.id}/delete", data={"csrf_token": token}
        )

        assert removed.status_code == 303
        assert not await sees_own_items(ben)
        assert await sees_own_items(ana)


async def test_a_session_unused_for_longer_than_the_idle_time_ends(people: Instance) -> None:
    async with browser(people, "ben") as ben:
        assert await sees_own_items(ben)
        async with people.runtime.sessions() as session, session.begin():
            await session.execute(
                update(MemberSession).values(
                    last_seen_at=utcnow() - member_sessions.IDLE - timedelta(minutes=1)
                )
            )

        assert not await sees_own_items(ben)


async def test_a_cookie_without_a_live_server_session_is_not_signed_in(people: Instance) -> None:
    async with browser(people, "ben") as ben:
        async with people.runtime.sessions() as session, session.begin():
            await session.execute(delete(MemberSession))

        assert await signed_in_as(ben) is None
        # The browser is told to drop the dead cookie.
        assert "ayni_session" not in ben.cookies


# --- the login limits ---


async def fail_from(
    instance: Instance, forwarded_for: str, client: str = "127.0.0.1"
) -> httpx.Response:
    transport = httpx.ASGITransport(app=instance.app, client=(client, 40000))
    async with httpx.AsyncClient(transport=transport, base_url=instance.settings.base_url) as http:
        token = await csrf(http)
        return await http.post(
            "/login",
            data={"csrf_token": token, "username": "ana", "password": "guess guess guess"},
            headers={"X-Forwarded-For": forwarded_for},
        )


async def test_rotating_x_forwarded_for_from_loopback_still_meets_the_accounts_delay(
    people: Instance,
) -> None:
    answers = [await fail_from(people, f"198.51.100.{n}") for n in range(7)]

    assert [a.status_code for a in answers[:5]] == [400] * 5
    assert [a.status_code for a in answers[5:]] == [429, 429]
    # The account's delay (seconds), not the address's limit: each try came from a new address.
    assert int(answers[5].headers["Retry-After"]) <= 2


async def test_an_untrusted_client_cannot_pose_as_other_addresses(people: Instance) -> None:
    people.app.state.login_attempts = LoginAttempts(free=1000)  # the address limit alone

    answers = [await fail_from(people, f"198.51.100.{n}", client="203.0.113.5") for n in range(6)]

    assert [a.status_code for a in answers] == [400] * 5 + [429]
    assert int(answers[5].headers["Retry-After"]) > 800  # its own address's 15 minutes


async def test_a_forged_x_forwarded_for_from_an_untrusted_address_does_not_lock_out_a_member(
    people: Instance,
) -> None:
    # Given ana signs in from 198.51.100.7, through the proxy on loopback (trusted by default),
    # and an attacker elsewhere who claims that address in a header of his own
    people.app.state.login_attempts = LoginAttempts(free=1000)  # the address limit alone
    attacker = [await fail_from(people, "198.51.100.7", client="203.0.113.5") for _ in range(6)]

    # When ana signs in through the proxy, which forwards her real address
    transport = httpx.ASGITransport(app=people.app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=people.settings.base_url) as http:
        token = await csrf(http)
        ana = await http.post(
            "/login",
            data={"csrf_token": token, "username": "ana", "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )

    # Then only the attacker's own address was limited, and she is in
    assert [a.status_code for a in attacker] == [400] * 5 + [429]
    assert ana.status_code == 303


async def test_a_trusted_proxys_forwarded_address_is_the_one_counted(database_url: str) -> None:
    settings = settings_for(
        "http://127.0.0.1:8101", database_url, trusted_proxies=parse_networks("203.0.113.0/24")
    )
    async with start_instance(settings.base_url, database_url, settings=settings) as instance:
        await add_people(instance)
        instance.app.state.login_attempts = LoginAttempts(free=1000)  # the address limit alone
        # The proxy appends the address it saw; whatever the client claimed comes before it.
        first = [
            await fail_from(instance, f"10.{n}.0.1, 198.51.100.1", client="203.0.113.5")
            for n in range(6)
        ]
        next_client = await fail_from(instance, "198.51.100.1, 198.51.100.2", client="203.0.113.5")
        # Loopback is no longer trusted: these five count against 127.0.0.1 whatever they say.
        direct = [await fail_from(instance, f"198.51.100.{n}") for n in range(10, 16)]

    assert [a.status_code for a in first] == [400] * 5 + [429]
    assert next_client.status_code == 400
    assert [a.status_code for a in direct] == [400] * 5 + [429]


def test_trusted_proxies_default_to_loopback_and_a_bad_value_names_the_setting() -> None:
    base = {"AYNI_BASE_URL": "https://aid.example.org", "AYNI_CONFIG": "/nonexistent/ayni.toml"}

    default = load(base)
    named = load(base | {"AYNI_TRUSTED_PROXIES": "172.18.0.0/16"})

    assert default.trusted_proxies == parse_networks(DEFAULT_TRUSTED_PROXIES)
    assert named.trusted_proxies == parse_networks("172.18.0.0/16")
    with pytest.raises(ValueError, match="AYNI_TRUSTED_PROXIES"):
        load(base | {"AYNI_TRUSTED_PROXIES": "the compose network"})
    assert isinstance(default, Settings)


async def test_a_correct_password_waits_out_the_delay_too_but_then_signs_in(
    people: Instance,
) -> None:
    clock = [1000.0]
    people.app.state.login_attempts = LoginAttempts(free=2, clock=lambda: clock[0])
    for n in range(3):
        await fail_from(people, f"198.51.100.{n}")

    async with browser(people) as ana:
        refused = await sign_in(ana, "ana", PASSWORD)
        clock[0] += int(refused.headers["Retry-After"])
        accepted = await sign_in(ana, "ana", PASSWORD)

    assert refused.status_code == 429
    assert accepted.status_code == 303
