"""Lemmy, Mbin and Misskey as they federate, over real signed HTTP to a running instance.

The documents are written here in the shapes each software builds them in its own code:
Lemmy's `crates/apub/objects/src/objects/post.rs` (`Page`), `crates/apub/activities/src/
community/announce.rs` (the community's `Announce` of the activity, and of the bare `Page`),
`deletion/delete.rs`; Mbin's `src/Factory/ActivityPub/EntryPageFactory.php` and
`src/Service/ActivityPub/Wrapper/AnnounceWrapper.php` (an inner activity embedded, or by its
url); Misskey's `packages/backend/src/core/activitypub/ApRendererService.ts` (`_misskey_content`,
`source`, `quoteUrl`, a `Like` carrying the reaction) and Pleroma's `EmojiReact`.
"""

from typing import Any
from uuid import uuid4

from sqlalchemy import func, select

from ayni import following
from federation import vocab
from federation.itemterms import Kind
from models import actors, posting
from models.content import RemoteObject, RemoteObjectKind
from models.follows import Direction, Follow, FollowState
from models.group_moderation import submissions
from models.items import ItemResponse, RemoteItem
from models.posting import Draft
from models.queue import Incoming
from tests.instances import Instance, settle
from tests.integration.conftest import A, Net
from tests.peers import ForumPeer
from tests.web import PASSWORD, set_password, sign_in

PUBLIC = vocab.PUBLIC
LEMMY = "http://127.0.0.1:8301"
MBIN = "http://127.0.0.1:8302"
MISSKEY = "http://127.0.0.1:8303"
GROUP = f"{A}/actors/food"
INBOX = f"{A}/inbox"


# --- Lemmy ---------------------------------------------------------------------------------


def lemmy_page(community: str, creator: str, number: int, name: str, **changes: Any) -> dict:
    return {
        "type": "Page",
        "id": f"{LEMMY}/post/{number}",
        "attributedTo": creator,
        "to": [community, PUBLIC],
        "cc": [],
        "name": name,
        "content": "<p>Bring a chair, we start at <strong>seven</strong>.</p>",
        "mediaType": "text/html",
        "source": {
            "content": "Bring a chair, we start at **seven**.",
            "mediaType": "text/markdown",
        },
        "attachment": [{"href": "https://example.org/flyer", "type": "Link"}],
        "sensitive": False,
        "published": "2026-03-02T18:00:00Z",
        "language": {"identifier": "en", "name": "English"},
        "audience": community,
        "tag": [{"href": f"{LEMMY}/post/{number}", "name": "#tenants", "type": "Hashtag"}],
        **changes,
    }


def lemmy_activity(kind: str, actor: str, community: str, obj: Any) -> dict[str, Any]:
    return {
        "actor": actor,
        "to": [community, PUBLIC],
        "object": obj,
        "cc": [],
        "type": kind,
        "id": f"{LEMMY}/activities/{kind.lower()}/{uuid4()}",
        "audience": community,
    }


def lemmy_announce(community: str, activity: dict[str, Any]) -> dict[str, Any]:
    inner = (vocab.types_of(activity) or ["other"])[0].lower()
    return {
        "@context": [vocab.AS_CONTEXT, "https://w3id.org/security/v1"],
        "actor": community,
        "to": [community, PUBLIC],
        "object": activity,
        "cc": [f"{community}/followers"],
        "type": "Announce",
        "id": f"{LEMMY}/activities/announce/{inner}/{uuid4()}",
    }


async def lemmy_world(net: Net) -> tuple[Instance, ForumPeer, str, str]:
    """A, and a Lemmy server with the community !tenants and the user rosa."""
    a = await net.instance(A)
    lemmy = net.forum(LEMMY)
    community = lemmy.actor(
        "/c/tenants",
        "Group",
        "tenants",
        name="Tenants Union",
        attributedTo=f"{LEMMY}/c/tenants/moderators",
        postingRestrictedToMods=False,
    )
    rosa = lemmy.actor("/u/rosa", "Person", "rosa", name="Rosa")
    return a, lemmy, community, rosa


async def follow_community(a: Instance, forum: ForumPeer, community: str, handle: str) -> None:
    """A's group follows the community by its `!` handle; the community accepts as Lemmy does
    (the Follow embedded)."""
    await following.follow_handle(a.runtime, "food", handle)
    await settle(a)
    follow = next(act for act in forum.received if act["type"] == "Follow")
    accept = {
        "actor": community,
        "to": [follow["actor"]],
        "object": {k: follow[k] for k in ("actor", "to", "object", "type", "id") if k in follow},
        "type": "Accept",
        "id": f"{forum.base_url}/activities/accept/{uuid4()}",
    }
    assert (await forum.send(community, INBOX, accept)).status_code == 202
    await settle(a)


async def board_rows(a: Instance) -> dict[str, RemoteItem]:
    async with a.runtime.sessions() as session:
        return {row.uri: row for row in await session.scalars(select(RemoteItem))}


async def outcomes(a: Instance) -> list[tuple[str, str, str | None]]:
    async with a.runtime.sessions() as session:
        rows = await session.execute(
            select(Incoming.activity_type, Incoming.state, Incoming.last_error).order_by(
                Incoming.id
            )
        )
        return [(r.activity_type, r.state, r.last_error) for r in rows]


async def test_a_followed_lemmy_communitys_posts_reach_the_board_with_their_edits_and_deletions(
    net: Net,
) -> None:
    a, lemmy, community, rosa = await lemmy_world(net)
    # Given A's group follows !tenants@lemmy
    await follow_community(a, lemmy, community, "!tenants@127.0.0.1:8301")
    async with a.runtime.sessions() as session:
        state = await session.scalar(select(Follow.state).where(Follow.direction == "outbound"))
    assert state == FollowState.ACCEPTED

    # When the community announces rosa's new post, then (for Mastodon) the bare Page
    page = lemmy.serve(lemmy_page(community, rosa, 7, "Assembly on Thursday"))
    create = lemmy_activity("Create", rosa, community, page)
    for activity in (lemmy_announce(community, create), lemmy_announce(community, page)):
        assert (await lemmy.send(community, INBOX, activity)).status_code == 202
    await settle(a)

    # Then the board holds it once, as a post of the community, titled, linked, sanitised
    rows = await board_rows(a)
    assert list(rows) == [page["id"]]
    post = rows[page["id"]]
    assert (post.kind, post.title, post.group_uri, post.url, post.status) == (
        "post",
        "Assembly on Thursday",
        community,
        page["id"],
        "open",
    )
    # And the page shows it as a post of the community
    await set_password(a)
    await sign_in(a.http, "ana", PASSWORD)
    html = (await a.http.get("/board")).text
    assert "Assembly on Thursday" in html and "Tenants Union" in html and "Community post" in html
    assert (await a.http.get("/board?kind=post")).text.count("Assembly on Thursday") == 1

    # When a comment on it and a vote on it are announced
    comment = {
        "type": "Note",
        "id": f"{LEMMY}/comment/3",
        "attributedTo": rosa,
        "to": [PUBLIC],
        "cc": [community],
        "content": "<p>I will be there</p>",
        "inReplyTo": page["id"],
        "audience": community,
    }
    vote = {
        "actor": rosa,
        "object": page["id"],
        "type": "Like",
        "id": f"{LEMMY}/activities/like/{uuid4()}",
        "audience": community,
    }
    for inner in (lemmy_activity("Create", rosa, community, comment), vote):
        assert (await lemmy.send(community, INBOX, lemmy_announce(community, inner))).is_success
    await settle(a)
    # Then neither is a board entry
    assert list(await board_rows(a)) == [page["id"]]

    # When rosa edits the post (announced Update: the embedded copy is rosa's, so A fetches it)
    edited = lemmy.serve(
        {**page, "name": "Assembly moved to Friday", "updated": "2026-03-03T09:00:00Z"}
    )
    update = lemmy_activity("Update", rosa, community, edited)
    assert (await lemmy.send(community, INBOX, lemmy_announce(community, update))).is_success
    await settle(a)
    assert (await board_rows(a))[page["id"]].title == "Assembly moved to Friday"

    # When rosa deletes it (Lemmy then answers 410 for the post)
    lemmy.serve({"id": page["id"], "type": "Tombstone"})
    delete = lemmy_activity("Delete", rosa, community, page["id"])
    assert (await lemmy.send(community, INBOX, lemmy_announce(community, delete))).is_success
    await settle(a)
    assert await board_rows(a) == {}

    # And nothing failed: each activity was handled or ignored with a reason
    assert all(state in ("done", "ignored") for _, state, _ in await outcomes(a))
    assert all(error for _, state, error in await outcomes(a) if state == "ignored")


async def test_a_forged_announced_delete_removes_nothing_that_is_still_served(net: Net) -> None:
    a, lemmy, community, rosa = await lemmy_world(net)
    await follow_community(a, lemmy, community, "!tenants@127.0.0.1:8301")
    page = lemmy.serve(lemmy_page(community, rosa, 8, "Rent strike FAQ"))
    create = lemmy_activity("Create", rosa, community, page)
    await lemmy.send(community, INBOX, lemmy_announce(community, create))
    await settle(a)

    delete = lemmy_activity("Delete", rosa, community, page["id"])
    await lemmy.send(community, INBOX, lemmy_announce(community, delete))
    await settle(a)

    assert list(await board_rows(a)) == [page["id"]]
    assert ("Announce", "ignored") in [(t, s) for t, s, _ in await outcomes(a)]


async def test_a_lemmy_post_submitted_to_the_group_waits_for_its_moderators(net: Net) -> None:
    a, lemmy, _, rosa = await lemmy_world(net)
    # Given rosa posts to our group from Lemmy, as Lemmy posts to a remote community
    page = lemmy.serve(lemmy_page(GROUP, rosa, 9, "Spare room for a family"))
    create = lemmy_activity("Create", rosa, GROUP, page)
    response = await lemmy.send(rosa, INBOX, {"@context": vocab.AS_CONTEXT, **create})
    await settle(a)

    # Then it is a submission of the group, pending review
    assert response.status_code == 202
    async with a.runtime.sessions() as session:
        group = await actors.find_actor(session, "food")
        assert group is not None
        pending = await submissions(session, group)
    assert [row.uri for row in pending] == [page["id"]]
    assert "seven" in pending[0].content_html


async def test_a_post_sent_to_the_group_only_by_audience_is_a_submission_too(net: Net) -> None:
    a, lemmy, community, rosa = await lemmy_world(net)
    page = lemmy.serve(lemmy_page(community, rosa, 10, "Food bank needs drivers", audience=GROUP))
    create = lemmy_activity("Create", rosa, community, page) | {"audience": GROUP}
    await lemmy.send(rosa, INBOX, create)
    await settle(a)

    async with a.runtime.sessions() as session:
        kinds = list(await session.scalars(select(RemoteObject.kind)))
    assert kinds == [RemoteObjectKind.SUBMISSION]


# --- Mbin ----------------------------------------------------------------------------------


def mbin_entry(magazine: str, user: str, number: int, title: str, **changes: Any) -> dict:
    body = "Meet at the library, **Saturday**."
    return {
        "@context": [vocab.AS_CONTEXT, "https://w3id.org/security/v1"],
        "id": f"{MBIN}/m/tenants/t/{number}",
        "type": "Page",
        "attributedTo": user,
        "inReplyTo": None,
        "to": [magazine, PUBLIC],
        "cc": [f"{user}/followers"],
        "name": title,
        "audience": magazine,
        "content": "<p>Meet at the library, <strong>Saturday</strong>.</p>",
        "summary": f"{title} #tenants",
        "mediaType": "text/html",
        "source": "https://example.org/event",  # Mbin puts a link post's url here
        "attachment": [{"href": "https://example.org/event", "type": "Link"}],
        "tag": [{"type": "Hashtag", "href": f"{MBIN}/tag/tenants", "name": "#tenants"}],
        "commentsEnabled": True,
        "sensitive": False,
        "stickied": False,
        "published": "2026-03-02T18:00:00+00:00",
        "contentMap": {"en": "<p>Meet at the library, <strong>Saturday</strong>.</p>"},
        "url": f"{MBIN}/m/tenants/t/{number}/-",
        "_body": body,
        **changes,
    }


def mbin_activity(kind: str, actor: str, obj: Any) -> dict[str, Any]:
    return {
        "@context": [vocab.AS_CONTEXT, "https://w3id.org/security/v1"],
        "id": f"{MBIN}/f/object/{uuid4()}",
        "type": kind,
        "actor": actor,
        "published": "2026-03-02T18:00:01+00:00",
        "to": [PUBLIC],
        "cc": [f"{MBIN}/m/tenants"],
        "object": obj,
    }


def mbin_announce(magazine: str, inner: Any) -> dict[str, Any]:
    if isinstance(inner, dict):
        inner = {k: v for k, v in inner.items() if k != "@context"}
    return {
        "@context": [vocab.AS_CONTEXT, "https://w3id.org/security/v1"],
        "id": f"{MBIN}/f/object/{uuid4()}",
        "type": "Announce",
        "actor": magazine,
        "published": "2026-03-02T18:00:02+00:00",
        "to": [PUBLIC],
        "cc": [f"{magazine}/followers"],
        "object": inner,
    }


async def test_a_followed_mbin_magazines_threads_reach_the_board_embedded_or_by_id(
    net: Net,
) -> None:
    a = await net.instance(A)
    mbin = net.forum(MBIN)
    magazine = mbin.actor("/m/tenants", "Group", "tenants", name="Tenants")
    user = mbin.actor("/u/rosa", "Person", "rosa")
    await follow_community(a, mbin, magazine, "!tenants@127.0.0.1:8302")

    # When the magazine announces one thread's Create embedded, and another's by its url
    first = mbin.serve(mbin_entry(magazine, user, 1, "Library meeting"))
    second = mbin.serve(mbin_entry(magazine, user, 2, "Bulk buying rice"))
    embedded = mbin_activity("Create", user, {k: v for k, v in first.items() if k != "@context"})
    by_id = mbin.serve(mbin_activity("Create", user, second))
    for inner in (embedded, by_id["id"]):
        assert (await mbin.send(magazine, INBOX, mbin_announce(magazine, inner))).is_success
    await settle(a)

    # Then both are posts of the magazine, linked to their pages
    rows = await board_rows(a)
    assert sorted((r.title, r.kind, r.group_uri, r.url) for r in rows.values()) == [
        ("Bulk buying rice", "post", magazine, f"{MBIN}/m/tenants/t/2/-"),
        ("Library meeting", "post", magazine, f"{MBIN}/m/tenants/t/1/-"),
    ]

    # When the first is edited and the second deleted (by id, as Mbin relays them)
    mbin.serve({**first, "name": "Library meeting (room 2)"})
    update = mbin_activity("Update", user, {"id": first["id"], "type": "Page"})
    mbin.serve({"id": second["id"], "type": "Tombstone"})
    delete = mbin.serve(mbin_activity("Delete", user, {"id": second["id"], "type": "Tombstone"}))
    for inner in (update, delete["id"]):
        assert (await mbin.send(magazine, INBOX, mbin_announce(magazine, inner))).is_success
    await settle(a)

    rows = await board_rows(a)
    assert [(r.title) for r in rows.values()] == ["Library meeting (room 2)"]
    assert all(state in ("done", "ignored") for _, state, _ in await outcomes(a))


# --- Misskey and its forks -----------------------------------------------------------------


async def test_misskey_notes_with_empty_content_and_emoji_reactions(net: Net) -> None:
    a = await net.instance(A)
    misskey = net.forum(MISSKEY)
    user = misskey.actor("/users/9kx2a1", "Person", "kumi")
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        item = await posting.create_item(
            session,
            a.runtime.uris,
            group,
            ana,
            Draft(Kind.ASK, "Bread for Sunday", category="food", as_group=True),
        )
    await settle(a)

    # When a Misskey user answers with an empty `content` (only MFM), and quotes it
    reply = misskey.serve(
        {
            "id": f"{MISSKEY}/notes/9kx3b2",
            "type": "Note",
            "attributedTo": user,
            "content": "",
            "_misskey_content": "I can bring 3 loaves <b>tomorrow</b>",
            "source": {
                "content": "I can bring 3 loaves <b>tomorrow</b>",
                "mediaType": "text/x.misskeymarkdown",
            },
            "published": "2026-03-02T18:00:00.000Z",
            "to": [PUBLIC],
            "cc": [f"{user}/followers", GROUP],
            "inReplyTo": item.uri,
            "attachment": [],
            "sensitive": False,
            "tag": [],
        }
    )
    quote = misskey.serve(
        {
            "id": f"{MISSKEY}/notes/9kx3b3",
            "type": "Note",
            "attributedTo": user,
            "content": None,
            "_misskey_quote": item.uri,
            "quoteUrl": item.uri,
            "published": "2026-03-02T18:01:00.000Z",
            "to": [PUBLIC],
            "cc": [GROUP],
            "inReplyTo": None,
            "tag": [{"type": "Mention", "href": GROUP, "name": "@food@127.0.0.1:8101"}],
        }
    )
    for note in (reply, quote):
        create = {
            "@context": [vocab.AS_CONTEXT],
            "id": f"{note['id']}/activity",
            "actor": user,
            "type": "Create",
            "published": note["published"],
            "object": note,
            "to": note["to"],
            "cc": note["cc"],
        }
        assert (await misskey.send(user, INBOX, create)).status_code == 202
    # And reacts with an emoji: Misskey's Like with content, Pleroma's EmojiReact
    like = {
        "@context": [vocab.AS_CONTEXT],
        "id": f"{MISSKEY}/likes/9kx3b4",
        "type": "Like",
        "actor": user,
        "object": item.uri,
        "content": "🍞",
        "_misskey_reaction": "🍞",
    }
    react = {**like, "id": f"{MISSKEY}/likes/9kx3b5", "type": "EmojiReact", "content": "❤"}
    for reaction in (like, react):
        assert (await misskey.send(user, INBOX, reaction)).status_code == 202
    await settle(a)

    # Then the reply is a response to the ask, with its MFM text, escaped
    async with a.runtime.sessions() as session:
        response = await session.scalar(
            select(RemoteObject)
            .join(ItemResponse, ItemResponse.remote_object_id == RemoteObject.id)
            .where(ItemResponse.item_id == item.id)
        )
        kept = await session.scalar(select(func.count()).select_from(RemoteObject))
    assert response is not None and response.uri == reply["id"]
    assert "I can bring 3 loaves" in response.content_html and "<b>" not in response.content_html
    # And the quote was understood (a submission, its text the link it quotes), the reactions
    # answered and ignored, nothing failed
    assert kept == 2
    states = await outcomes(a)
    assert [(t, s) for t, s, _ in states if t in ("Like", "EmojiReact")] == [
        ("Like", "ignored"),
        ("EmojiReact", "ignored"),
    ]
    assert all(state in ("done", "ignored") for _, state, _ in states)


# --- what our groups send to Lemmy and Mbin ------------------------------------------------


async def test_lemmy_followers_get_the_groups_items_in_a_form_lemmy_accepts(net: Net) -> None:
    a, lemmy, _, rosa = await lemmy_world(net)
    # Given rosa on Lemmy subscribes to our group (Lemmy sends the Follow from the person)
    follow = {
        "actor": rosa,
        "to": [GROUP],
        "object": GROUP,
        "type": "Follow",
        "id": f"{LEMMY}/activities/follow/{uuid4()}",
    }
    assert (await lemmy.send(rosa, INBOX, follow)).status_code == 202
    await settle(a)
    async with a.runtime.sessions() as session:
        state = await session.scalar(
            select(Follow.state).where(Follow.direction == Direction.INBOUND)
        )
    assert state == FollowState.ACCEPTED

    # When the group posts an ask as itself, and a member posts an offer in her name
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        as_group = await posting.create_item(
            session,
            a.runtime.uris,
            group,
            ana,
            Draft(Kind.ASK, "Nappies, size 4", category="goods", as_group=True),
        )
        by_ana = await posting.create_item(
            session,
            a.runtime.uris,
            group,
            ana,
            Draft(Kind.OFFER, "Soup on Fridays", category="food", as_group=False),
        )
    await settle(a)

    # Then Lemmy gets, from the group, an Announce of each Create, as Lemmy reads it
    announced = {
        act["object"]["object"]["id"]: act
        for act in lemmy.received
        if act["type"] == "Announce" and isinstance(act["object"], dict)
    }
    assert set(announced) == {as_group.uri, by_ana.uri}
    service = f"{GROUP}/service"
    for uri, author in ((as_group.uri, service), (by_ana.uri, f"{A}/actors/ana")):
        announce = announced[uri]
        create, page = announce["object"], announce["object"]["object"]
        assert announce["actor"] == GROUP and PUBLIC in announce["to"] + announce["cc"]
        # the creator is the activity's actor, on the post's host, never the Group itself
        assert create["type"] == "Create" and create["actor"] == author
        assert page["attributedTo"] == author and vocab.same_origin(author, page["id"])
        # the community is found through to/cc and agrees with audience
        assert GROUP in page["to"] + page["cc"] and page["audience"] == GROUP
        assert "to" in create and "cc" in create and page.get("inReplyTo") is None
        assert page["type"] in ("Page", "Article", "Note", "Video", "Event") and page["name"]

    # And the Service is an actor Lemmy takes for a creator
    document = (await lemmy.http.get(service, headers={"Accept": vocab.ACTIVITY_JSON})).json()
    assert document["type"] in ("Person", "Service", "Organization")
    assert document["id"] == service and document["preferredUsername"] == "food"
    assert document["inbox"] and document["outbox"]
    assert document["publicKey"]["owner"] == service and document["publicKey"]["publicKeyPem"]

    # When the group edits and then deletes its ask, both are passed on as the Service's
    async with a.runtime.sessions() as session, session.begin():
        row = await session.get(type(as_group), as_group.id)
        assert row is not None
        await posting.edit_item(
            session, a.runtime.uris, row, posting.draft_of(row, "goods", title="Nappies, size 5")
        )
        await posting.delete_item(session, a.runtime.uris, row)
    await settle(a)
    passed_on = [
        (act["object"]["type"], act["object"]["actor"])
        for act in lemmy.received
        if act["type"] == "Announce"
        and isinstance(act["object"], dict)
        and vocab.id_of(act["object"]["object"]) == as_group.uri
    ]
    assert passed_on == [("Create", service), ("Update", service), ("Delete", service)]


async def test_mastodon_still_sees_the_groups_own_create_and_cannot_fetch_the_passed_on_one(
    net: Net,
) -> None:
    a = await net.instance(A)
    mastodon = net.peer("http://127.0.0.1:8304", "maria")
    await mastodon.send(INBOX, mastodon.follow(GROUP))
    await settle(a)
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        item = await posting.create_item(
            session,
            a.runtime.uris,
            group,
            ana,
            Draft(Kind.ASK, "Nappies, size 4", category="goods", as_group=True),
        )
    await settle(a)

    create = next(act for act in mastodon.received if act["type"] == "Create")
    assert create["actor"] == GROUP and create["object"]["attributedTo"] == GROUP
    announce = next(act for act in mastodon.received if act["type"] == "Announce")
    # Mastodon follows an Announce of an activity by fetching the activity: nothing is there
    fetched = await mastodon.http.get(
        announce["object"]["id"], headers={"Accept": vocab.ACTIVITY_JSON}
    )
    assert fetched.status_code == 404
    served = await mastodon.http.get(item.uri, headers={"Accept": vocab.ACTIVITY_JSON})
    assert served.json()["attributedTo"] == GROUP


async def test_a_message_to_the_groups_service_reaches_the_group(net: Net) -> None:
    a, lemmy, _, rosa = await lemmy_world(net)
    note = {
        "type": "Note",
        "id": f"{LEMMY}/private_message/4",
        "attributedTo": rosa,
        "to": [f"{GROUP}/service"],
        "content": "<p>Who posted the nappies ask?</p>",
        "published": "2026-03-02T18:00:00Z",
    }
    create = lemmy_activity("Create", rosa, GROUP, note) | {"to": [f"{GROUP}/service"], "cc": []}
    assert (await lemmy.send(rosa, INBOX, create)).status_code == 202
    await settle(a)

    async with a.runtime.sessions() as session:
        group = await actors.find_actor(session, "food")
        row = await session.scalar(select(RemoteObject))
    assert group is not None and row is not None
    assert (row.kind, row.local_actor_id) == (RemoteObjectKind.PRIVATE, group.id)


# --- Friendica forums ----------------------------------------------------------------------

FRIENDICA = "http://127.0.0.1:8304"


async def test_a_followed_friendica_forums_posts_reach_the_board_announced_either_way(
    net: Net,
) -> None:
    """A Friendica forum (a `Group`) passes a member's post on as a boost of the post's id, and
    (for forum software) as an Announce of her Create: the board holds the post once."""
    a = await net.instance(A)
    friendica = net.forum(FRIENDICA)
    forum = friendica.actor("/profile/tenants", "Group", "tenants", name="Tenants Forum")
    rosa = friendica.actor("/profile/rosa", "Person", "rosa", name="Rosa")
    await follow_community(a, friendica, forum, "!tenants@127.0.0.1:8304")
    note = friendica.serve(
        {
            "id": f"{FRIENDICA}/objects/3c4e-1",
            "type": "Note",
            "attributedTo": rosa,
            "name": "Rent strike meeting",
            "content": "<p>Sunday at the community centre.</p>",
            "to": [PUBLIC],
            "cc": [forum, f"{rosa}/followers"],
            "audience": forum,
            "published": "2026-03-04T10:00:00Z",
        }
    )
    create = friendica.serve(
        {
            "id": f"{FRIENDICA}/objects/3c4e-1/Create",
            "type": "Create",
            "actor": rosa,
            "object": note,
            "to": [PUBLIC],
            "cc": [forum],
        }
    )
    boost = {
        "@context": vocab.AS_CONTEXT,
        "id": f"{FRIENDICA}/objects/3c4e-1/Announce",
        "type": "Announce",
        "actor": forum,
        "object": note["id"],
        "to": [PUBLIC],
        "cc": [f"{forum}/followers"],
    }
    passed_on = {**boost, "id": f"{FRIENDICA}/objects/3c4e-1/Announce2", "object": create}
    for activity in (boost, passed_on):
        assert (await friendica.send(forum, INBOX, activity)).status_code == 202
    await settle(a)

    rows = await board_rows(a)
    assert list(rows) == [note["id"]]
    assert (rows[note["id"]].kind, rows[note["id"]].title, rows[note["id"]].group_uri) == (
        "post",
        "Rent strike meeting",
        forum,
    )
    assert all(state in ("done", "ignored") for _, state, _ in await outcomes(a))
