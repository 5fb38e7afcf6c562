"""Posting an ask, offer or call from the browser (`/post`), with the privacy choices explained
where they are made. The domain rules (membership, personal data, coarse places) are
`models.posting.create_item`'s; this page reads the form and says what went wrong."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import access, flash, i18n, item_form, render, security
from ayni.web.board import group_places
from ayni.web.groups import KIND_LABELS
from ayni.web.i18n import N_
from ayni.web.refusals import FormRefused, Problem, by_field, said
from federation.itemterms import Kind
from federation.visibility import ITEM_VISIBILITIES
from models import items, posting
from models.actors import LocalActor, Role
from models.base import utcnow
from models.items import Item
from models.posting import NotAllowed, PersonalData
from models.runtime import Runtime

UNKNOWN_CATEGORY = Problem(N_("Choose one of this group's categories."), field="category")
UNKNOWN_KIND = Problem(N_("Choose whether this is an ask, an offer or a call."), field="kind")
NOT_POSTED = N_("This could not be posted: %(reason)s")
POSTED = N_("Posted. This is how others see it.")


def _kind(value: str) -> Kind | None:
    return next((kind for kind in Kind if kind == value), None)


async def form_context(
    session: AsyncSession, runtime: Runtime, who: LocalActor, values: dict[str, str]
) -> dict[str, Any]:
    """The groups one may post in, and the chosen group's categories (defaults on first use)."""
    groups = await access.groups_of(session, who)
    chosen = next(
        (g for g in groups if g.username == values["group"]), groups[0] if groups else None
    )
    if chosen is not None:
        values["group"] = chosen.username
    categories = await items.categories(session, runtime.uris, chosen) if chosen else []
    if chosen is not None and not values["timezone"]:
        values["timezone"] = await group_zone(session, chosen)
    moderated = await access.groups_of(session, who, Role.MODERATOR)
    return {
        # Asks on someone's behalf: for moderators (the server checks the chosen group's role).
        "may_intake": bool(moderated),
        "groups": groups,
        "group": chosen,
        "categories": categories,
        "places": await group_places(session, [chosen]) if chosen else [],
        "values": values,
        "kinds": KIND_LABELS,
        "visibilities": item_form.VISIBILITY_LABELS,
        "visibility_choices": [str(v) for v in ITEM_VISIBILITIES],
        "host": runtime.settings.host,
    }


async def group_zone(session: AsyncSession, group: LocalActor) -> str:
    """The time zone the group's latest item was posted in: where its calls happen."""
    latest = await session.scalar(
        select(Item.timezone)
        .where(Item.group_id == group.id, Item.timezone != "UTC")
        .order_by(Item.id.desc())
        .limit(1)
    )
    return latest or "UTC"


async def _form_page(
    request: Request, values: dict[str, str], problems: list[Problem], status_code: int = 200
) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
        context = await form_context(session, runtime, who, values)
    errors = said(problems, lambda message, **v: i18n.gettext(request, message, **v))
    return render(
        request,
        "post.html",
        {**context, "errors": errors, "field_errors": by_field(errors)},
        status_code,
    )


async def post_form(request: Request) -> Response:
    query = request.query_params
    values = dict.fromkeys(item_form.FIELDS, "") | {"as_group": ""}
    values |= {
        "group": query.get("group", "")[:64],
        "kind": str(_kind(query.get("kind", "")) or Kind.ASK),
        "visibility": "",  # never chosen for her: the form asks
        "timezone": "",  # the group's (form_context)
    }
    return await _form_page(request, values, [])


async def post_item(request: Request) -> Response:
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    values = item_form.values_of(form)
    kind = _kind(values["kind"])
    try:
        async with runtime.sessions() as session, session.begin():
            who = await access.member(request, session)
            group = await access.group(session, values["group"], who, Role.MEMBER)  # 403 outside it
            item_form.with_area(values, await group_places(session, [group]))
            draft, problems = item_form.draft_from(values, kind or Kind.ASK, utcnow())
            if kind is None:
                problems.insert(0, UNKNOWN_KIND)
            if problems or draft is None:
                raise FormRefused(*problems)
            item = await posting.create_item(
                session, runtime.uris, group, who, draft, seal=runtime.seal
            )
    except FormRefused as refused:
        return await _form_page(request, values, refused.problems, 400)
    except PersonalData as e:
        problem = item_form.personal_data_problem(e.found, lambda m: i18n.gettext(request, m))
        return await _form_page(request, values, [problem], 400)
    except LookupError:
        return await _form_page(request, values, [UNKNOWN_CATEGORY], 400)
    except NotAllowed:
        raise HTTPException(
            403, N_("You do not have permission to do that in this group.")
        ) from None
    except ValueError as e:  # the item's own rules (models.posting, federation.items), said plainly
        return await _form_page(request, values, [Problem(NOT_POSTED, {"reason": str(e)})], 400)
    flash.flash(request, POSTED)
    return RedirectResponse(f"/items/{item.uuid}", status_code=303)


routes = [
    Route("/post", post_form, methods=["GET"]),
    Route("/post", post_item, methods=["POST"]),
]
