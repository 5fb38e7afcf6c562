"""A member's own items (`/my/items`) and changing an item: edit, close, reopen, delete.

The author may change an item, and so may the moderators and admins of its group
(`models.posting.may_change`, asked on every request); everyone else gets 403. Closing and
deleting ask first (`confirmation`); a fulfilled or withdrawn ask or offer can be reopened.
"""

from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import access, confirmation, flash, i18n, item_form, render, security
from ayni.web.board import group_places
from ayni.web.groups import KIND_LABELS, STATUS_LABELS, coming_counts
from ayni.web.i18n import N_
from ayni.web.refusals import FormRefused, Problem, Said, by_field, said
from federation.itemterms import CLOSED, Kind, Status
from federation.visibility import Visibility
from models import escrow, intake, items, posting
from models.actors import LocalActor, Role, role_in
from models.base import utcnow
from models.items import Category, Item, ItemResponse
from models.posting import NotAllowed, PersonalData
from models.runtime import Runtime

# What a member may close an item as; "expired" is the clock's to decide.
CLOSING = {
    Kind.ASK: (Status.FULFILLED, Status.WITHDRAWN),
    Kind.OFFER: (Status.FULFILLED, Status.WITHDRAWN),
    Kind.CALL: (Status.DONE, Status.CANCELLED),
}
CLOSE_LABELS = {
    Status.FULFILLED: N_("Mark as fulfilled"),
    Status.WITHDRAWN: N_("Withdraw"),
    Status.DONE: N_("Mark as done"),
    Status.CANCELLED: N_("Cancel the call"),
}
CLOSE_QUESTIONS = {
    Status.FULFILLED: N_("Mark “%(title)s” as fulfilled?"),
    Status.WITHDRAWN: N_("Withdraw “%(title)s”?"),
    Status.DONE: N_("Mark “%(title)s” as done?"),
    Status.CANCELLED: N_("Cancel the call “%(title)s”?"),
}
CLOSE_EXPLAINED = {
    Kind.ASK: N_(
        "People will see that it is over and can no longer answer. You can reopen it later, "
        "from its page or from your items, while its date has not passed."
    ),
    Kind.CALL: N_(
        "Everyone sees that the call is over and can no longer say they are coming; those who "
        "were coming lose their way to the meeting point. A call cannot be reopened."
    ),
}
REOPENED = N_("“%(title)s” is open again.")
NOT_REOPENED = N_(
    "Only a fulfilled or withdrawn ask or offer whose date has not passed can be reopened. "
    "Post it again instead."
)
NOT_YOURS = N_("Only the author and the group's moderators can change this item.")
NO_ITEM = N_("There is no such item.")
CLOSED_ALREADY = N_("This item is closed: it can no longer be changed.")
SAVED = N_("Saved: “%(title)s”.")
CLOSED_AS = N_("“%(title)s” is now: %(status)s.")
DELETED = N_("Deleted: “%(title)s”.")
NOT_SAVED = N_("This could not be saved: %(reason)s")


@dataclass(frozen=True)
class Mine:
    item: Item
    group_name: str
    responses: int
    closing: tuple[Status, ...]
    reopenable: bool
    coming: int = 0  # for calls


async def my_items(session: AsyncSession, who: LocalActor) -> list[Mine]:
    counts = (
        select(ItemResponse.item_id, func.count().label("n"))
        .where(ItemResponse.withdrawn_at.is_(None))
        .group_by(ItemResponse.item_id)
        .subquery()
    )
    rows = await session.execute(
        select(Item, LocalActor.name, func.coalesce(counts.c.n, 0))
        .join(LocalActor, LocalActor.id == Item.group_id)
        .outerjoin(counts, counts.c.item_id == Item.id)
        .where(Item.author_id == who.id, Item.deleted_at.is_(None))
        .order_by(Item.created_at.desc(), Item.id.desc())
    )
    found = rows.all()
    coming = await coming_counts(
        session, [item.id for item, _, _ in found if item.kind == Kind.CALL]
    )
    return [
        Mine(
            item,
            group_name,
            int(count),
            () if item.status in CLOSED else CLOSING[Kind(item.kind)],
            item.status in posting.REOPENABLE,
            coming.get(item.id, 0),
        )
        for item, group_name, count in found
    ]


async def my_items_page(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        who = await access.member(request, session)
        mine = await my_items(session, who)
    return render(
        request,
        "my_items.html",
        {
            "mine": mine,
            "flash": flash.take(request),
            "kinds": KIND_LABELS,
            "statuses": STATUS_LABELS,
            "visibilities": item_form.VISIBILITY_LABELS,
            "close_labels": CLOSE_LABELS,
        },
    )


async def changeable(request: Request, session: AsyncSession) -> tuple[Item, LocalActor]:
    """The item in the path, if the signed-in member may change it: else 404 or 403."""
    who = await access.member(request, session)
    item = await session.scalar(select(Item).where(Item.uuid == request.path_params["uuid"]))
    if item is None or item.deleted_at is not None:
        raise HTTPException(404, NO_ITEM)
    try:
        await posting.may_change(session, item, who)
    except NotAllowed:
        raise HTTPException(403, NOT_YOURS) from None
    return item, who


async def may_intake(session: AsyncSession, item: Item, who: LocalActor) -> bool:
    """Who an item posted as the group is for: its group's moderators and admins see and change
    it, nobody else (not even its author, once she is no longer a moderator)."""
    group = await session.get(LocalActor, item.group_id)
    assert group is not None
    return item.as_group and await role_in(session, group, who) in (Role.MODERATOR, Role.ADMIN)


async def _edit_page(
    request: Request,
    session: AsyncSession,
    item: Item,
    values: dict[str, str],
    errors: list[Said],
    status_code: int = 200,
) -> Response:
    runtime: Runtime = request.app.state.runtime
    group = await session.get(LocalActor, item.group_id)
    assert group is not None
    who = await access.member(request, session)
    members_only = item.visibility == Visibility.MEMBERS
    response = render(
        request,
        "item_edit.html",
        {
            "item": item,
            "group": group,
            "values": values,
            "errors": errors,
            "field_errors": by_field(errors),
            "categories": await items.categories(session, runtime.uris, group),
            "places": await group_places(session, [group]),
            "kinds": KIND_LABELS,
            "visibilities": item_form.VISIBILITY_LABELS,
            "visibility_choices": ["members"] if members_only else ["public", "followers"],
            "has_meeting_point": await escrow.meeting_point_row(session, item) is not None,
            "may_intake": await may_intake(session, item, who),
        },
        status_code,
    )
    response.headers["Cache-Control"] = "private, no-store"  # it may hold the meeting point
    return response


async def edit_form(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        item, who = await changeable(request, session)
        if item.status in CLOSED:
            raise HTTPException(400, CLOSED_ALREADY)
        group = await session.get(LocalActor, item.group_id)
        category = await session.get(Category, item.category_id)
        assert group is not None and category is not None
        values = item_form.values_of_item(item, category.slug, group.username)
        # Only the author and the group's moderators reach this page: they may see and change it.
        values["meeting_point"] = await escrow.meeting_point(session, runtime.seal, item) or ""
        if await may_intake(session, item, who):
            requester = await intake.read(session, runtime.seal, item)
            values["for_name"] = requester.name if requester else ""
            values["for_contact"] = requester.contact if requester else ""
        return await _edit_page(request, session, item, values, [])


async def _keep_reveal(session: AsyncSession, item: Item, draft: posting.Draft) -> posting.Draft:
    """A meeting point changed on this page keeps how it is revealed (`--reveal-before`,
    `--reveal-inline`, set from the command line): the form does not show those."""
    row = await escrow.meeting_point_row(session, item)
    if row is None or not draft.meeting_point:
        return draft
    before = timedelta(seconds=row.reveal_before_s) if row.reveal_before_s is not None else None
    return replace(draft, reveal_before=before, reveal_inline=row.reveal_inline)


async def edit(request: Request) -> Response:
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    values = item_form.values_of(form)
    problems: list[Problem] = []
    async with runtime.sessions() as session:
        try:
            async with session.begin():
                item, who = await changeable(request, session)
                if item.status in CLOSED:
                    raise HTTPException(400, CLOSED_ALREADY)
                # What is fixed once posted comes from the item, never from the form.
                values["kind"], values["as_group"] = item.kind, "yes" if item.as_group else ""
                if (
                    item.visibility == Visibility.MEMBERS
                    or values["visibility"] == Visibility.MEMBERS
                ):
                    values["visibility"] = item.visibility
                if not await may_intake(session, item, who):
                    values["for_name"] = values["for_contact"] = ""
                group = await session.get(LocalActor, item.group_id)
                assert group is not None
                item_form.with_area(values, await group_places(session, [group]))
                draft, problems = item_form.draft_from(values, Kind(item.kind), utcnow())
                if draft is None:
                    raise FormRefused(*problems)
                draft = await _keep_reveal(session, item, draft)
                await posting.edit_item(
                    session, runtime.uris, item, draft, by=who, seal=runtime.seal
                )
                title = item.title
        except FormRefused as refused:
            problems = refused.problems
        except PersonalData as e:
            problems = [
                item_form.personal_data_problem(e.found, lambda m: i18n.gettext(request, m))
            ]
        except LookupError:
            problems = [Problem(N_("Choose one of this group's categories."), field="category")]
        except ValueError as e:
            problems = [Problem(NOT_SAVED, {"reason": str(e)})]
        if problems:
            async with session.begin():
                item, _ = await changeable(request, session)
                errors = said(problems, lambda m, **v: i18n.gettext(request, m, **v))
                return await _edit_page(request, session, item, values, errors, 400)
    flash.flash(request, SAVED, title=title)
    return RedirectResponse("/my/items", status_code=303)


async def close(request: Request) -> Response:
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        item, who = await changeable(request, session)
        status = next((s for s in CLOSING[Kind(item.kind)] if s == form.get("status")), None)
        if status is None:
            raise HTTPException(400, N_("Choose how the item ends."))
        if item.status in CLOSED:
            raise HTTPException(400, CLOSED_ALREADY)
        if not confirmation.confirmed(form):
            return confirmation.ask(
                request,
                question=CLOSE_QUESTIONS[status],
                explanation=CLOSE_EXPLAINED[Kind.CALL if item.kind == Kind.CALL else Kind.ASK],
                button=CLOSE_LABELS[status],
                back=f"/items/{item.uuid}",
                fields={"status": status},
                title=item.title,
            )
        await posting.close_item(session, runtime.uris, item, status, by=who)
        title = item.title
    flash.flash(
        request, CLOSED_AS, title=title, status=i18n.gettext(request, STATUS_LABELS[status])
    )
    return RedirectResponse("/my/items", status_code=303)


async def reopen(request: Request) -> Response:
    await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        item, who = await changeable(request, session)
        try:
            await posting.reopen_item(session, runtime.uris, item, by=who)
        except ValueError:
            raise HTTPException(400, NOT_REOPENED) from None
        title = item.title
    flash.flash(request, REOPENED, title=title)
    return RedirectResponse(f"/items/{item.uuid}", status_code=303)


async def delete_form(request: Request) -> Response:
    """The confirmation a delete asks for: also what a POST without `confirm=yes` answers."""
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        item, _ = await changeable(request, session)
    response = render(request, "item_delete.html", {"item": item, "kinds": KIND_LABELS})
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def delete(request: Request) -> Response:
    form = await security.checked_form(request)
    if not confirmation.confirmed(form):
        return await delete_form(request)
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        item, who = await changeable(request, session)
        await posting.delete_item(session, runtime.uris, item, by=who)
        title = item.title
    flash.flash(request, DELETED, title=title)
    return RedirectResponse("/my/items", status_code=303)


routes = [
    Route("/my/items", my_items_page, methods=["GET"]),
    Route("/items/{uuid}/edit", edit_form, methods=["GET"]),
    Route("/items/{uuid}/edit", edit, methods=["POST"]),
    Route("/items/{uuid}/close", close, methods=["POST"]),
    Route("/items/{uuid}/reopen", reopen, methods=["POST"]),
    Route("/items/{uuid}/delete", delete_form, methods=["GET"]),
    Route("/items/{uuid}/delete", delete, methods=["POST"]),
]
