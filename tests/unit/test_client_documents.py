"""federation.client over a mocked transport: what fetch and get_json make of answers.

The transport is respx, but the SSRF guard still checks every URL handed to it, so hosts
resolve through an injected resolver to (public) addresses chosen here.
"""

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Generator
from ipaddress import ip_address
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from federation.addresses import IPAddress, parse_networks
from federation.client import AS2_ACCEPT, Client
from federation.errors import FetchError, Gone, NotFound, Refused, TooLarge, Unavailable

AS2 = "application/activity+json"
LD_AS2 = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
USER_AGENT = "Ayni/0.1.0 (+https://ayni.example)"

ADDRESSES = {
    "remote.example": ["93.184.215.14"],
    "other.example": ["151.101.1.1"],
    "internal.example": ["10.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "split.example": ["93.184.215.15", "192.168.1.20"],
}


async def resolve(host: str, port: int) -> list[IPAddress]:
    return [ip_address(a) for a in ADDRESSES.get(host, ["93.184.215.99"])]


@pytest.fixture
def router() -> Generator[respx.MockRouter, None, None]:
    with respx.MockRouter(assert_all_called=False) as mock_router:
        yield mock_router


@pytest.fixture
async def client(router: respx.MockRouter) -> AsyncIterator[Client]:
    transport = httpx.MockTransport(router.async_handler)
    async with Client(USER_AGENT, resolve=resolve, transport=transport, max_body=4096) as c:
        yield c


def document(url: str, **extra: Any) -> dict[str, Any]:
    return {"@context": "https://www.w3.org/ns/activitystreams", "id": url, "type": "Note", **extra}


def serve(router: respx.MockRouter, url: str, body: Any, content_type: str = AS2) -> respx.Route:
    return router.get(url).respond(200, json=body, headers={"Content-Type": content_type})


# --- fetch: the happy path and what it sends ---------------------------------------------------


async def test_fetch_returns_the_document_and_sends_ayni_headers(
    client: Client, router: respx.MockRouter
) -> None:
    url = "https://remote.example/notes/1"
    route = serve(router, url, document(url, content="hello"))

    got = await client.fetch(url)

    assert got["content"] == "hello"
    sent = route.calls.last.request
    assert sent.headers["User-Agent"] == USER_AGENT
    assert sent.headers["Accept"] == AS2_ACCEPT


@pytest.mark.parametrize(
    "content_type",
    [
        AS2,
        "application/activity+json; charset=utf-8",
        LD_AS2,
        'application/ld+json;profile="https://www.w3.org/ns/activitystreams";charset=utf-8',
        'Application/LD+JSON; PROFILE="https://www.w3.org/ns/activitystreams"',
        (
            'application/ld+json; profile="https://example.org/x '
            'https://www.w3.org/ns/activitystreams"'
        ),
    ],
)
async def test_fetch_accepts_activity_streams_content_types(
    client: Client, router: respx.MockRouter, content_type: str
) -> None:
    url = "https://remote.example/notes/1"
    serve(router, url, document(url), content_type)

    assert (await client.fetch(url))["id"] == url


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/ld+json",
        'application/ld+json; profile="https://example.org/other"',
        "text/html; charset=utf-8",
        "application/activity+jsonx",
        "",
    ],
)
async def test_fetch_refuses_other_content_types(
    client: Client, router: respx.MockRouter, content_type: str
) -> None:
    url = "https://remote.example/notes/1"
    serve(router, url, document(url), content_type)

    with pytest.raises(Refused, match="Content-Type") as caught:
        await client.fetch(url)
    assert caught.value.url == url


async def test_fetch_passes_auth_so_the_request_is_signed(
    client: Client, router: respx.MockRouter
) -> None:
    class Stamp(httpx.Auth):
        def auth_flow(
            self, request: httpx.Request
        ) -> Generator[httpx.Request, httpx.Response, None]:
            request.headers["Signature"] = f"signed {request.url}"
            yield request

    url = "https://remote.example/users/alice"
    route = serve(router, url, document(url))

    await client.fetch(url, auth=Stamp())

    assert route.calls.last.request.headers["Signature"] == f"signed {url}"


# --- fetch: the document must live where its id says ------------------------------------------


async def test_fetch_refuses_a_document_whose_id_is_on_another_origin(
    client: Client, router: respx.MockRouter
) -> None:
    url = "https://remote.example/notes/1"
    serve(router, url, document("https://other.example/notes/1"))

    with pytest.raises(Refused, match="another origin"):
        await client.fetch(url)


@pytest.mark.parametrize(
    "forged_id",
    [
        "http://remote.example/notes/1",
        "https://remote.example:8443/notes/1",
        "https://REMOTE.example.evil/x",
    ],
)
async def test_scheme_and_port_are_part_of_the_origin(
    client: Client, router: respx.MockRouter, forged_id: str
) -> None:
    url = "https://remote.example/notes/1"
    serve(router, url, document(forged_id))

    with pytest.raises(Refused, match="another origin"):
        await client.fetch(url)


async def test_fetch_refuses_a_document_without_an_id(
    client: Client, router: respx.MockRouter
) -> None:
    url = "https://remote.example/notes/1"
    serve(router, url, {"type": "Note"})

    with pytest.raises(Refused, match="no id"):
        await client.fetch(url)


async def test_fetch_refetches_once_at_the_id_on_the_same_origin(
    client: Client, router: respx.MockRouter
) -> None:
    profile = "https://remote.example/@alice"
    actor = "https://remote.example/users/alice"
    serve(router, profile, document(actor, name="stale copy"))
    at_id = serve(router, actor, document(actor, name="Alice"))

    got = await client.fetch(profile)

    assert got["name"] == "Alice"
    assert at_id.call_count == 1


async def test_fetch_refuses_an_id_that_is_not_stable(
    client: Client, router: respx.MockRouter
) -> None:
    serve(router, "https://remote.example/a", document("https://remote.example/b"))
    serve(router, "https://remote.example/b", document("https://remote.example/c"))
    third = serve(router, "https://remote.example/c", document("https://remote.example/c"))

    with pytest.raises(Refused, match="not stable"):
        await client.fetch("https://remote.example/a")
    assert third.call_count == 0


async def test_fetch_checks_the_id_against_the_final_url_after_redirects(
    client: Client, router: respx.MockRouter
) -> None:
    router.get("https://remote.example/moved").respond(
        301, headers={"Location": "https://other.example/notes/1"}
    )
    serve(router, "https://other.example/notes/1", document("https://other.example/notes/1"))
    router.get("https://remote.example/sneaky").respond(
        302, headers={"Location": "https://other.example/notes/2"}
    )
    serve(router, "https://other.example/notes/2", document("https://remote.example/notes/2"))

    assert (await client.fetch("https://remote.example/moved"))["id"] == (
        "https://other.example/notes/1"
    )
    with pytest.raises(Refused, match="another origin"):
        await client.fetch("https://remote.example/sneaky")


async def test_a_key_id_with_a_fragment_needs_no_refetch(
    client: Client, router: respx.MockRouter
) -> None:
    actor = "https://remote.example/users/alice"
    route = serve(router, actor, document(actor, type="Person"))

    got = await client.fetch(actor + "#main-key")

    assert got["id"] == actor
    assert route.call_count == 1


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2, 3]", b'"a string"', b"", b"[" * 2000, b'{"id": 1, "id": 2}'],
)
async def test_fetch_refuses_bodies_that_are_not_a_json_object(
    client: Client, router: respx.MockRouter, body: bytes
) -> None:
    url = "https://remote.example/notes/1"
    router.get(url).respond(200, content=body, headers={"Content-Type": AS2})

    with pytest.raises(Refused, match="not a JSON object") as caught:
        await client.fetch(url)
    assert (caught.value.url, caught.value.status) == (url, 200)


# --- statuses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, NotFound),
        (410, Gone),
        (500, Unavailable),
        (502, Unavailable),
        (503, Unavailable),
        (429, Unavailable),
        (401, FetchError),
        (403, FetchError),
    ],
)
async def test_statuses_map_to_typed_errors_with_url_and_status(
    client: Client, router: respx.MockRouter, status: int, error: type[FetchError]
) -> None:
    url = "https://remote.example/notes/1"
    router.get(url).respond(status, text="no")

    with pytest.raises(error) as caught:
        await client.fetch(url)
    assert type(caught.value) is error
    assert (caught.value.url, caught.value.status) == (url, status)


# --- redirects (the guard on each hop is tested over real sockets too) -------------------------


async def test_three_redirects_are_followed(client: Client, router: respx.MockRouter) -> None:
    for hop in range(3):
        router.get(f"https://remote.example/{hop}").respond(
            302, headers={"Location": f"/{hop + 1}"}
        )
    serve(router, "https://remote.example/3", document("https://remote.example/3"))

    assert (await client.fetch("https://remote.example/0"))["id"] == "https://remote.example/3"


async def test_a_fourth_redirect_is_refused(client: Client, router: respx.MockRouter) -> None:
    for hop in range(4):
        router.get(f"https://remote.example/{hop}").respond(
            302, headers={"Location": f"/{hop + 1}"}
        )
    last = serve(router, "https://remote.example/4", document("https://remote.example/4"))

    with pytest.raises(Refused, match="more than 3 redirects"):
        await client.fetch("https://remote.example/0")
    assert last.call_count == 0


async def test_a_redirect_loop_is_refused(client: Client, router: respx.MockRouter) -> None:
    router.get("https://remote.example/a").respond(302, headers={"Location": "/b"})
    b = router.get("https://remote.example/b").respond(
        302, headers={"Location": "https://remote.example/a"}
    )

    with pytest.raises(Refused, match="loop"):
        await client.fetch("https://remote.example/a")
    assert b.call_count == 1


@pytest.mark.parametrize(
    "location",
    [
        "https://internal.example/admin",
        "https://metadata.example/latest/meta-data/",
        "https://split.example/",
        "http://10.0.0.1/",
        "https://[::ffff:10.0.0.1]/",
        "file:///etc/passwd",
        "data:application/activity+json,{}",
        "http://remote.example/notes/1",  # plain http to a public host
    ],
)
async def test_a_redirect_to_a_forbidden_place_is_refused(
    client: Client, router: respx.MockRouter, location: str
) -> None:
    router.get("https://remote.example/go").respond(302, headers={"Location": location})
    reached = router.route().respond(200, json=document(location))  # anything after the hop

    with pytest.raises(Refused):
        await client.fetch("https://remote.example/go")
    assert reached.call_count == 0


# --- the guard in front of a mocked transport -------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://internal.example/",
        "https://metadata.example/latest/meta-data/",
        "https://split.example/",
        "http://remote.example/",
        "https://127.0.0.1/",
        "https://[::1]/",
        "file:///etc/passwd",
        "data:application/activity+json,{}",
        "ftp://remote.example/actor.json",
        "gopher://remote.example/",
        "/relative/path",
        "https://",
    ],
)
async def test_forbidden_urls_never_reach_the_transport(
    client: Client, router: respx.MockRouter, url: str
) -> None:
    anything = router.route().respond(200, json={})

    for call in (client.fetch(url), client.get_json(url)):
        with pytest.raises(Refused) as caught:
            await call
        assert caught.value.url is not None
    assert anything.call_count == 0


# --- bodies -----------------------------------------------------------------------------------


async def test_a_body_over_the_cap_is_too_large(client: Client, router: respx.MockRouter) -> None:
    url = "https://remote.example/notes/1"
    serve(router, url, document(url, content="x" * 5000))

    with pytest.raises(TooLarge):
        await client.fetch(url)


# --- get_json ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/jrd+json",
        "application/json; charset=utf-8",
        'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"',
    ],
)
async def test_get_json_reads_jrd_and_json(
    client: Client, router: respx.MockRouter, content_type: str
) -> None:
    url = "https://remote.example/.well-known/webfinger?resource=acct:alice@remote.example"
    route = router.get(url).respond(
        200,
        content=json.dumps({"subject": "acct:alice@remote.example"}),
        headers={"Content-Type": content_type},
    )

    got = await client.get_json(url)

    assert got == {"subject": "acct:alice@remote.example"}
    assert route.calls.last.request.headers["User-Agent"] == USER_AGENT
    assert "Signature" not in route.calls.last.request.headers


async def test_get_json_refuses_html(client: Client, router: respx.MockRouter) -> None:
    router.get("https://remote.example/.well-known/nodeinfo").respond(
        200, text="<html></html>", headers={"Content-Type": "text/html"}
    )

    with pytest.raises(Refused, match="not JSON"):
        await client.get_json("https://remote.example/.well-known/nodeinfo")


async def test_get_json_maps_statuses(client: Client, router: respx.MockRouter) -> None:
    router.get("https://remote.example/.well-known/webfinger").respond(404)

    with pytest.raises(NotFound):
        await client.get_json("https://remote.example/.well-known/webfinger")


# --- transport failures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("garbage"),
        OSError("reset"),
    ],
)
async def test_transport_failures_become_unavailable(
    client: Client, router: respx.MockRouter, failure: Exception
) -> None:
    router.get("https://remote.example/notes/1").mock(side_effect=failure)

    with pytest.raises(Unavailable) as caught:
        await client.fetch("https://remote.example/notes/1")
    assert caught.value.url == "https://remote.example/notes/1"


# --- gzip ----------------------------------------------------------------------------------------


async def test_gzip_bodies_are_decoded_by_mocks_and_the_cap_still_applies(
    client: Client, router: respx.MockRouter
) -> None:
    url = "https://remote.example/notes/1"
    packed = gzip.compress(json.dumps(document(url, content="y" * 10_000)).encode())
    router.get(url).respond(
        200, content=packed, headers={"Content-Type": AS2, "Content-Encoding": "gzip"}
    )

    with pytest.raises(TooLarge):
        await client.fetch(url)


# --- in-process peers mounted by host (how integration tests federate) ----------------------------


def peer_app() -> Starlette:
    async def actor(request: Request) -> JSONResponse:
        return JSONResponse(
            {"id": str(request.url), "type": "Group"}, media_type="application/activity+json"
        )

    return Starlette(routes=[Route("/groups/{name}", actor)])


async def test_a_mounted_in_process_peer_is_reached_only_through_allow_private() -> None:
    mounts = {"http://127.0.0.1:8001": httpx.ASGITransport(app=peer_app())}
    url = "http://127.0.0.1:8001/groups/kitchen"

    async with Client(USER_AGENT, mounts=mounts) as strict:
        with pytest.raises(Refused, match="loopback"):
            await strict.fetch(url)
    async with Client(USER_AGENT, mounts=mounts, allow_private=parse_networks("127.0.0.1")) as lax:
        assert (await lax.fetch(url))["type"] == "Group"


async def test_a_mounted_peer_under_a_name_goes_through_the_resolver() -> None:
    mounts = {"https://peer.test": httpx.ASGITransport(app=peer_app())}
    allowed = parse_networks("10.9.0.0/16")

    async def lan(host: str, port: int) -> list[IPAddress]:
        return [ip_address("10.9.0.7" if host == "peer.test" else "10.1.0.1")]

    async with Client(USER_AGENT, mounts=mounts, resolve=lan, allow_private=allowed) as client:
        got = await client.fetch("https://peer.test/groups/kitchen")
        with pytest.raises(Refused, match="private"):
            await client.fetch("https://elsewhere.test/groups/kitchen")
    assert got["id"] == "https://peer.test/groups/kitchen"


# --- garbage in, typed errors out --------------------------------------------------------------

printable = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | printable,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(printable, inner, max_size=4),
    max_leaves=12,
)
ids = st.one_of(
    printable,
    st.sampled_from(["https://remote.example/x", "https://remote.example/y", "//remote.example/x"]),
)
documents = st.builds(
    lambda d, i: json.dumps({**d, "id": i}).encode(),
    st.dictionaries(printable, json_values, max_size=4),
    ids,
)


def test_any_answer_gives_a_dict_or_a_typed_error() -> None:
    answers: list[httpx.Response] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        return answers[0] if len(answers) == 1 else answers.pop(0)

    with asyncio.Runner() as runner:
        client = Client(USER_AGENT, resolve=resolve, transport=httpx.MockTransport(handler))

        @settings(max_examples=100, deadline=None)
        @given(
            status=st.sampled_from([200, 200, 200, 204, 301, 302, 308, 404, 410, 418, 500]),
            content_type=st.one_of(st.sampled_from([AS2, LD_AS2, "application/json"]), printable),
            location=st.one_of(printable, st.sampled_from(["/y", "https://remote.example/x"])),
            body=st.one_of(documents, st.binary(max_size=200)),
        )
        def check(status: int, content_type: str, location: str, body: bytes) -> None:
            headers = {"Content-Type": content_type, "Location": location}
            answers[:] = [httpx.Response(status, headers=headers, content=body)]

            async def attempt() -> None:
                for call in (
                    client.fetch("https://remote.example/x"),
                    client.get_json("https://remote.example/x"),
                ):
                    try:
                        assert isinstance(await call, dict)
                    except FetchError:
                        pass

            runner.run(attempt())

        check()
        runner.run(client.aclose())
