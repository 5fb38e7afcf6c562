"""A group's moderation page: follow requests, held submissions, reports, blocks, removing an item
and relaying one.

The domain functions (models.group_moderation, models.relays, models.follow_requests) check no
roles: each route here checks the viewer's role in the group and that every id it was sent belongs
to that group, in the same transaction as the change, so a refused action leaves nothing behind.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.following import FollowError, resolve_actor
from ayni.web import access, confirmation, flash, render, security
from ayni.web.groups import KIND_LABELS
from ayni.web.i18n import N_
from ayni.web.refusals import FormRefused
from federation import vocab
from federation.errors import FederationError
from federation.sanitize import html_to_text
from models import group_moderation, relays, remote_actors
from models.actors import LocalActor, Role
from models.follow_requests import decide, pending_requests
from models.follows import Direction, Follow, FollowState
from models.items import Item, RemoteItem
from models.moderation import MemberReport, Relay
from models.posting import delete_item
from models.remote import RemoteActor
from models.runtime import Runtime

LISTED = 50
NO_SUCH_REQUEST = N_("This group has no such follow request.")
NO_SUCH_SUBMISSION = N_("This group has no such submission.")
NO_SUCH_ITEM = N_("This group has no such item.")
NOT_BLOCKED = N_("This group does not block that account.")
UNKNOWN_DECISION = N_("Choose one of the buttons offered.")
ACTOR_MISSING = N_("Enter an account as @name@server or the address of its profile.")
ACTOR_LOCAL = N_(
    "That account is on this instance: only accounts on other servers can be blocked here."
)
ACTOR_UNRESOLVED = N_(
    "No account could be found at that address. Check the spelling and try again."
)
OBJECT_MISSING = N_("Enter the address of the item to relay.")
NOT_ON_BOARD = N_(
    "That item is not on the network board: "
    "only items of groups this instance follows can be relayed."
)
BOOST_FORBIDDEN = N_(
    "This post cannot be shared: its author's interaction policy does not let the group boost it."
)
NOT_RELAYED = N_(
    "This item cannot be relayed: it is from this instance, the group shared it already, "
    "or it is for its group's followers only."
)
DECIDED_ALREADY = N_("That submission was decided already.")
NO_SUCH_REPORT = N_("This group has no such open report.")
CANNOT_PASS_ON = N_(
    "This report cannot be sent on: the item and its author are on different servers."
)


@dataclass(frozen=True)
class Account:
    """A remote actor as the page shows it."""

    id: int
    name: str
    handle: str
    url: str

    @classmethod
    def of(cls, remote: RemoteActor | None) -> "Account":
        if remote is None:
            return cls(0, "", "?", "")
        handle = f"@{remote.username}@{remote.host}" if remote.username else remote.uri
        page = remote.document.get("url") if isinstance(remote.document, dict) else None
        # Only web links: a document's url must not become a javascript: link on our page.
        url = (
            page
            if isinstance(page, str) and page.startswith(("https://", "http://"))
            else remote.uri
        )
        return cls(remote.id, remote.name or remote.username, handle, url)


@dataclass(frozen=True)
class Held:
    id: int
    uri: str
    author: Account
    text: str
    received: datetime


@dataclass(frozen=True)
class Target:
    """What a report is about: one of the group's items (who posted it, its title and text, and
    whether it is still there to remove), the group itself, or an address we do not know."""

    uri: str
    label: str
    person: str = ""  # the reported person's name: the item's author (or the group)
    text: str = ""
    uuid: str | None = None  # an item still there, which the moderators may remove


@dataclass(frozen=True)
class Reported:
    """A report from another server (`member` False, `reporter` its sender, whom the moderators
    may block) or from one of our members."""

    id: int
    member: bool
    reporter: Account
    targets: list[Target]
    comment: str
    received: datetime
    passable: bool = False  # a member's, about another server's item: may be passed on there


def _page_path(group: LocalActor | str) -> str:
    name = group if isinstance(group, str) else group.username
    return f"/groups/{name}/moderation"


def _back(group: LocalActor) -> Response:
    return RedirectResponse(_page_path(group), status_code=303)


async def _moderated(request: Request, session: AsyncSession) -> tuple[LocalActor, LocalActor]:
    """The viewer and the group, if the viewer moderates it (403/404/sign-in otherwise)."""
    me = await access.member(request, session)
    return me, await access.group(session, request.path_params["name"], me, Role.MODERATOR)


async def _about_item(session: AsyncSession, group: LocalActor, item: Item) -> Target:
    author = await session.get(LocalActor, item.author_id)
    person = group.name if item.as_group or author is None else (author.name or author.username)
    return Target(
        item.uri,
        item.title,
        person,
        item.body_markdown[:500],
        item.uuid if item.deleted_at is None else None,
    )


async def _targets(
    session: AsyncSession, runtime: Runtime, group: LocalActor, reported: object
) -> list[Target]:
    """What a report from another server is about: the group, its items, anything else by uri."""
    uris = [uri for uri in vocab.ids_of(reported) if uri.startswith(("https://", "http://"))]
    items = (
        {
            item.uri: item
            for item in await session.scalars(
                select(Item).where(Item.group_id == group.id, Item.uri.in_(uris))
            )
        }
        if uris
        else {}
    )
    found = []
    for uri in uris:
        if uri in items:
            found.append(await _about_item(session, group, items[uri]))
        elif uri == runtime.uris.actor(group.username):
            found.append(Target(uri, group.name, group.name))
        else:
            found.append(Target(uri, uri))
    return found


async def _member_report(session: AsyncSession, group: LocalActor, row: MemberReport) -> Reported:
    reporter = await session.get(LocalActor, row.reporter_id) if row.reporter_id else None
    targets = []
    if row.item_id is not None and (item := await session.get(Item, row.item_id)) is not None:
        targets.append(await _about_item(session, group, item))
    if row.member_id is not None and (person := await session.get(LocalActor, row.member_id)):
        targets.append(Target(f"/@{person.username}", person.name, person.name or person.username))
    remote = await session.get(RemoteItem, row.remote_item_id) if row.remote_item_id else None
    if remote is not None:
        author = Account.of(await session.get(RemoteActor, remote.remote_actor_id))
        content = remote.document.get("content")
        text = html_to_text(content)[:500] if isinstance(content, str) else ""
        targets.append(Target(remote.url or remote.uri, remote.title, author.handle, text))
    who = (
        Account(
            0, reporter.name or reporter.username, f"@{reporter.username}", f"/@{reporter.username}"
        )
        if reporter is not None
        else Account.of(None)
    )
    return Reported(
        row.id, True, who, targets, row.comment, row.created_at, passable=remote is not None
    )


async def _overview(session: AsyncSession, runtime: Runtime, group: LocalActor) -> dict[str, Any]:
    requests = [
        (follow.id, Account.of(remote)) for follow, remote in await pending_requests(session, group)
    ]
    held = [
        Held(
            row.id,
            row.uri,
            Account.of(await session.get(RemoteActor, row.remote_actor_id)),
            html_to_text(row.content_html)[:500],
            row.published_at,
        )
        for row in await group_moderation.submissions(session, group)
    ]
    reports = [
        Reported(
            row.id,
            False,
            Account.of(await session.get(RemoteActor, row.remote_actor_id)),
            await _targets(session, runtime, group, row.document.get("object")),
            html_to_text(row.content_html),
            row.published_at,
        )
        for row in await group_moderation.reports(session, runtime.uris, group)
    ] + [
        await _member_report(session, group, row)
        for row in await group_moderation.member_reports(session, group)
    ]
    blocked = [
        Account.of(remote) for remote in await group_moderation.blocked_actors(session, group)
    ]
    items = list(
        await session.scalars(
            select(Item)
            .where(Item.group_id == group.id, Item.deleted_at.is_(None))
            .order_by(Item.created_at.desc(), Item.id.desc())
            .limit(LISTED)
        )
    )
    shared = select(Relay.object_uri).where(Relay.group_id == group.id)
    board = list(
        await session.scalars(
            select(RemoteItem)
            .where(RemoteItem.visibility == "public", RemoteItem.uri.not_in(shared))
            .order_by(RemoteItem.received_at.desc(), RemoteItem.id.desc())
            .limit(LISTED)
        )
    )
    return {
        "requests": requests,
        "held": held,
        "reports": reports,
        "blocked": blocked,
        "items": items,
        "board": board,
    }


async def _render(
    request: Request,
    group_name: str,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        me = await access.member(request, session)
        group = await access.group(session, group_name, me, Role.MODERATOR)
        context = await _overview(session, runtime, group)
    return render(
        request,
        "moderation.html",
        {
            **context,
            "group": group,
            "flash": flash.take(request),
            "kinds": KIND_LABELS,
            "errors": errors or {},
            "values": values or {},
        },
        status_code,
    )


async def moderation_page(request: Request) -> Response:
    return await _render(request, request.path_params["name"])


def _decision(form: FormData, *choices: str) -> str:
    decision = str(form.get("decision", ""))
    if decision not in choices:
        raise HTTPException(400, UNKNOWN_DECISION)
    return decision


async def decide_follow(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await security.checked_form(request)
    async with runtime.sessions() as session, session.begin():
        _, group = await _moderated(request, session)
        decision = _decision(form, "accept", "reject")
        follow = await session.get(Follow, request.path_params["follow_id"])
        if (
            follow is None
            or follow.local_actor_id != group.id
            or follow.direction != Direction.INBOUND
            or follow.state != FollowState.PENDING
        ):
            raise HTTPException(404, NO_SUCH_REQUEST)
        who = Account.of(await session.get(RemoteActor, follow.remote_actor_id))
        await decide(runtime, session, follow, accept=decision == "accept")
    if decision == "accept":
        flash.flash(request, N_("%(who)s now follows the group."), who=who.handle)
    else:
        flash.flash(request, N_("%(who)s's follow request was refused."), who=who.handle)
    return _back(group)


async def decide_submission(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await security.checked_form(request)
    try:
        async with runtime.sessions() as session, session.begin():
            _, group = await _moderated(request, session)
            decision = _decision(form, "approve", "reject")
            submission_id = request.path_params["submission_id"]
            try:
                if decision == "approve":
                    await group_moderation.approve_submission(
                        session, runtime.uris, group, submission_id
                    )
                else:
                    await group_moderation.reject_submission(session, group, submission_id)
            except LookupError:
                raise HTTPException(404, NO_SUCH_SUBMISSION) from None
            except relays.ForbiddenByAuthor:
                raise FormRefused(BOOST_FORBIDDEN, field="submissions") from None
            except ValueError:  # decided already, or (approving) ours or shared already
                raise FormRefused(
                    DECIDED_ALREADY if decision == "reject" else NOT_RELAYED, field="submissions"
                ) from None
    except FormRefused as refused:
        return await _render(
            request, request.path_params["name"], {refused.field: refused.message}, status_code=400
        )
    flash.flash(
        request,
        N_("The group shared the post with its followers.")
        if decision == "approve"
        else N_("The post was rejected; nothing was sent."),
    )
    return _back(group)


def _on_this_instance(runtime: Runtime, reference: str) -> bool:
    host = vocab.host_of(reference) if "://" in reference else reference.rpartition("@")[2].lower()
    return host == runtime.settings.host


async def _resolve(runtime: Runtime, reference: str) -> RemoteActor:
    """A handle through WebFinger, an address directly (as `ayni moderation block` does)."""
    if reference.startswith("@") or ("://" not in reference and "@" in reference):
        return await resolve_actor(runtime, reference)
    return await remote_actors.remote_actor(runtime, reference)


async def block(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await security.checked_form(request)
    name = request.path_params["name"]
    reference = str(form.get("actor", "")).strip()[:2048]
    async with runtime.sessions() as session:
        await _moderated(request, session)  # refuse outsiders before anything goes to the network
    error = None
    if not reference:
        error = ACTOR_MISSING
    elif _on_this_instance(runtime, reference):
        error = ACTOR_LOCAL
    else:
        try:
            remote = await _resolve(runtime, reference)
        except (FollowError, FederationError, LookupError, ValueError):
            error = ACTOR_UNRESOLVED
    if error:
        return await _render(request, name, {"block": error}, {"actor": reference}, 400)
    async with runtime.sessions() as session, session.begin():
        _, group = await _moderated(request, session)
        await group_moderation.block_actor(session, runtime.uris, group, remote)
    flash.flash(
        request,
        N_("%(who)s is blocked: no follows, replies or submissions from it."),
        who=Account.of(remote).handle,
    )
    return _back(group)


async def unblock(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    await security.checked_form(request)
    async with runtime.sessions() as session, session.begin():
        _, group = await _moderated(request, session)
        remote = await session.get(RemoteActor, request.path_params["remote_actor_id"])
        if remote is None or not await group_moderation.unblock_actor(session, group, remote):
            raise HTTPException(404, NOT_BLOCKED)
        who = Account.of(remote).handle
    flash.flash(request, N_("%(who)s is no longer blocked."), who=who)
    return _back(group)


async def remove_item(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await security.checked_form(request)
    async with runtime.sessions() as session, session.begin():
        me, group = await _moderated(request, session)
        item = await session.scalar(
            select(Item).where(
                Item.uuid == request.path_params["uuid"],
                Item.group_id == group.id,
                Item.deleted_at.is_(None),
            )
        )
        if item is None:
            raise HTTPException(404, NO_SUCH_ITEM)
        title = item.title
        if not confirmation.confirmed(form):
            return confirmation.ask(
                request,
                question=N_("Remove “%(title)s”?"),
                explanation=N_(
                    "It is deleted here, and the servers that received it are asked to delete "
                    "their copies. This cannot be undone."
                ),
                button=N_("Remove it"),
                back=_page_path(group) + "#items",
                title=title,
            )
        await delete_item(session, runtime.uris, item, by=me)
    flash.flash(request, N_("“%(title)s” was removed."), title=title)
    return _back(group)


async def relay(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await security.checked_form(request)
    reference = str(form.get("object", "")).strip()[:2048]
    try:
        async with runtime.sessions() as session, session.begin():
            _, group = await _moderated(request, session)
            if not reference:
                raise FormRefused(OBJECT_MISSING, field="relay")
            found = await session.scalar(
                select(RemoteItem)
                .where(or_(RemoteItem.uri == reference, RemoteItem.url == reference))
                .limit(1)
            )
            if found is None:
                raise FormRefused(NOT_ON_BOARD, field="relay", value=reference)
            try:
                await relays.relay_item(session, runtime.uris, group, found)
            except relays.ForbiddenByAuthor:
                raise FormRefused(BOOST_FORBIDDEN, field="relay", value=reference) from None
            except relays.NotRelayed:
                raise FormRefused(NOT_RELAYED, field="relay", value=reference) from None
            title = found.title
    except FormRefused as refused:
        return await _render(
            request,
            request.path_params["name"],
            {refused.field: refused.message},
            {"object": refused.value},
            400,
        )
    flash.flash(request, N_("The group shared “%(title)s” with its followers."), title=title)
    if form.get("back") == "board":  # the one-button relay on the network board
        return RedirectResponse("/board", status_code=303)
    return _back(group)


async def resolve_report(request: Request) -> Response:
    """Marks a report resolved: off the list and the badge. `member` says whose: one of our
    members' (its id in `member_reports`) or another server's."""
    runtime: Runtime = request.app.state.runtime
    form = await security.checked_form(request)
    async with runtime.sessions() as session, session.begin():
        _, group = await _moderated(request, session)
        report_id = request.path_params["report_id"]
        try:
            if form.get("member") == "yes":
                await group_moderation.resolve_member_report(session, group, report_id)
            else:
                await group_moderation.resolve_report(session, runtime.uris, group, report_id)
        except LookupError:
            raise HTTPException(404, NO_SUCH_REPORT) from None
    flash.flash(request, N_("The report is marked resolved."))
    return _back(group)


async def block_reporter(request: Request) -> Response:
    """Blocks the account on another server that sent a report, and resolves the report."""
    runtime: Runtime = request.app.state.runtime
    await security.checked_form(request)
    async with runtime.sessions() as session, session.begin():
        _, group = await _moderated(request, session)
        try:
            report = await group_moderation.resolve_report(
                session, runtime.uris, group, request.path_params["report_id"]
            )
        except LookupError:
            raise HTTPException(404, NO_SUCH_REPORT) from None
        remote = await session.get(RemoteActor, report.remote_actor_id)
        if remote is None:
            raise HTTPException(404, NO_SUCH_REPORT)
        await group_moderation.block_actor(session, runtime.uris, group, remote)
        who = Account.of(remote).handle
    flash.flash(
        request, N_("%(who)s is blocked: no follows, replies or submissions from it."), who=who
    )
    return _back(group)


async def pass_on_report(request: Request) -> Response:
    """Sends a member's report about another server's item there, as the group's Flag."""
    runtime: Runtime = request.app.state.runtime
    await security.checked_form(request)
    async with runtime.sessions() as session, session.begin():
        _, group = await _moderated(request, session)
        try:
            await group_moderation.pass_on_report(
                session, runtime.uris, group, request.path_params["report_id"]
            )
        except LookupError:
            raise HTTPException(404, NO_SUCH_REPORT) from None
        except ValueError:  # its author is on another server than the item: nowhere to send
            raise HTTPException(400, CANNOT_PASS_ON) from None
    flash.flash(request, N_("The report was sent to the item's server, in the group's name."))
    return _back(group)


routes = [
    Route("/groups/{name}/moderation", moderation_page, methods=["GET"]),
    Route(
        "/groups/{name}/moderation/reports/{report_id:int}/pass-on",
        pass_on_report,
        methods=["POST"],
    ),
    Route(
        "/groups/{name}/moderation/reports/{report_id:int}/resolve",
        resolve_report,
        methods=["POST"],
    ),
    Route(
        "/groups/{name}/moderation/reports/{report_id:int}/block",
        block_reporter,
        methods=["POST"],
    ),
    Route("/groups/{name}/moderation/follows/{follow_id:int}", decide_follow, methods=["POST"]),
    Route(
        "/groups/{name}/moderation/submissions/{submission_id:int}",
        decide_submission,
        methods=["POST"],
    ),
    Route("/groups/{name}/moderation/blocks", block, methods=["POST"]),
    Route(
        "/groups/{name}/moderation/blocks/{remote_actor_id:int}/delete", unblock, methods=["POST"]
    ),
    Route("/groups/{name}/moderation/items/{uuid}/delete", remove_item, methods=["POST"]),
    Route("/groups/{name}/moderation/relay", relay, methods=["POST"]),
]
