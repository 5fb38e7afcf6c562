"""The instance admins' pages: the overview, instance settings, groups, members and queue health.
Federation (follows between groups, blocks, allowlist mode) is in `admin_federation`.

Every handler asks `signed_in_admin` first: anonymous visitors are sent to sign in, anyone who is
not an instance admin (a group's admin included) gets 403 and changes nothing.
"""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import access, flash, i18n, render, security
from ayni.web.i18n import N_
from ayni.web.refusals import Said
from models import actors
from models.actors import ActorType, Instance, LocalActor, Role
from models.base import utcnow
from models.queue import Delivery, DeliveryState, DomainBlock, Host, MailState
from models.runtime import Runtime
from outbox import status

NAME_MAX = 200  # Instance.name and LocalActor.name are String(200)
SUMMARY_MAX = 2000
HOST_MAX = 255


async def signed_in_admin(request: Request, session: AsyncSession) -> LocalActor:
    who = await access.member(request, session)
    access.admin(who)
    return who


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """Renders an admin page with the confirmation of the form just sent, if any."""
    return render(request, name, {"notice": flash.take(request), **context}, status_code)


def done(request: Request, path: str, message: str, **variables: str | int) -> Response:
    """Post/Redirect/Get: the confirmation `message` (an N_ id) is shown once on `path`, at the
    top of `#main`: the forms post to their own section (`#blocks-heading`), which a redirect
    without a fragment of its own would keep, scrolling past the confirmation."""
    flash.flash(request, message, **variables)
    return RedirectResponse(f"{path}#main", status_code=303)


def field(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


# Overview


async def overview(request: Request) -> Response:
    runtime = runtime_of(request)
    async with runtime.sessions() as session:
        await signed_in_admin(request, session)
        counts = {
            "groups": await actors.count_actors(session, ActorType.GROUP),
            "members": await actors.count_actors(session, ActorType.PERSON),
            "due": await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(
                    Delivery.state == DeliveryState.PENDING, Delivery.next_attempt_at <= utcnow()
                )
            )
            or 0,
            "failed": await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.state == DeliveryState.FAILED)
            )
            or 0,
            "unavailable": await session.scalar(
                select(func.count()).select_from(Host).where(Host.unavailable_since.is_not(None))
            )
            or 0,
            "blocked": await session.scalar(select(func.count()).select_from(DomainBlock)) or 0,
        }
        mode = await session.scalar(select(Instance.federation_mode))
    return page(request, "admin.html", {"counts": counts, "mode": mode})


# Instance settings


async def _instance_page(
    request: Request, values: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> Response:
    return page(
        request,
        "admin_instance.html",
        {
            "values": values,
            "errors": errors,
            "host": runtime_of(request).settings.host,
            "name_max": NAME_MAX,
            "summary_max": SUMMARY_MAX,
        },
        status_code,
    )


async def instance_form(request: Request) -> Response:
    async with runtime_of(request).sessions() as session:
        await signed_in_admin(request, session)
        instance = await session.scalar(select(Instance))
    values = (
        {"name": instance.name, "summary": instance.summary}
        if instance
        else {"name": "", "summary": ""}
    )
    return await _instance_page(request, values, {})


def _control_free(text: str, allow_newlines: bool) -> bool:
    allowed = {"\n", "\r", "\t"} if allow_newlines else set()
    return all(c.isprintable() or c in allowed for c in text)


async def instance_save(request: Request) -> Response:
    form = await security.checked_form(request)
    values = {"name": field(form, "name"), "summary": field(form, "summary")}
    errors: dict[str, str] = {}
    if len(values["name"]) > NAME_MAX:
        errors["name"] = i18n.gettext(
            request, N_("The name is too long: at most %(max)s characters."), max=NAME_MAX
        )
    elif not _control_free(values["name"], allow_newlines=False):
        errors["name"] = i18n.gettext(request, N_("The name must be one line of text."))
    if len(values["summary"]) > SUMMARY_MAX:
        errors["summary"] = i18n.gettext(
            request, N_("The summary is too long: at most %(max)s characters."), max=SUMMARY_MAX
        )
    elif not _control_free(values["summary"], allow_newlines=True):
        errors["summary"] = i18n.gettext(
            request, N_("The summary contains characters that cannot be shown.")
        )
    async with runtime_of(request).sessions() as session, session.begin():
        await signed_in_admin(request, session)
        if errors:
            return await _instance_page(request, values, errors, 400)
        instance = await session.scalar(select(Instance))
        if instance is None:
            raise LookupError("this database has no instance row: run `ayni init` first")
        instance.name, instance.summary = values["name"], values["summary"].replace("\r\n", "\n")
    return done(request, "/admin/instance", N_("The instance settings were saved."))


# Groups


async def _groups_page(
    request: Request,
    session: AsyncSession,
    values: dict[str, str],
    error: Said | None,
    status_code: int = 200,
) -> Response:
    groups = list(
        await session.scalars(
            select(LocalActor)
            .where(LocalActor.type == ActorType.GROUP)
            .order_by(LocalActor.username)
        )
    )
    return page(
        request,
        "admin_groups.html",
        {
            "groups": groups,
            "values": values,
            "error": error.text if error else None,
            "error_field": error.field if error else "",
            "host": runtime_of(request).settings.host,
            "name_max": NAME_MAX,
            "summary_max": SUMMARY_MAX,
        },
        status_code,
    )


async def groups(request: Request) -> Response:
    async with runtime_of(request).sessions() as session:
        await signed_in_admin(request, session)
        return await _groups_page(request, session, {}, None)


async def _new_group_error(
    request: Request, session: AsyncSession, values: dict[str, str]
) -> Said | None:
    """Why the form cannot create a group, in the reader's language and on which field, or None."""
    try:
        actors.validate_name(values["name"])
    except actors.InvalidName:
        return Said(
            i18n.gettext(
                request,
                N_(
                    "A group's name is 1 to 30 lowercase letters, digits or _ (it is "
                    "part of its handle and cannot change)."
                ),
            ),
            "name",
        )
    if await actors.find_actor(session, values["name"]) is not None:
        return Said(
            i18n.gettext(
                request,
                N_("The name %(name)s is already taken by a group or member."),
                name=values["name"],
            ),
            "name",
        )
    if not values["title"]:
        return Said(i18n.gettext(request, N_("A group needs a title.")), "title")
    if len(values["title"]) > NAME_MAX or not _control_free(values["title"], allow_newlines=False):
        return Said(
            i18n.gettext(
                request,
                N_("The title must be one line of at most %(max)s characters."),
                max=NAME_MAX,
            ),
            "title",
        )
    if len(values["summary"]) > SUMMARY_MAX:
        return Said(
            i18n.gettext(
                request,
                N_("The summary is too long: at most %(max)s characters."),
                max=SUMMARY_MAX,
            ),
            "summary",
        )
    return None


async def group_create(request: Request) -> Response:
    form = await security.checked_form(request)
    values = {
        "name": field(form, "name"),
        "title": field(form, "title"),
        "summary": field(form, "summary"),
        "manual_approval": "1" if form.get("manual_approval") else "",
        "admin": field(form, "admin").lstrip("@"),
    }
    async with runtime_of(request).sessions() as session, session.begin():
        await signed_in_admin(request, session)
        error = await _new_group_error(request, session, values)
        admin = None
        if error is None and values["admin"]:
            admin = await actors.find_actor(session, values["admin"])
            if admin is None or admin.type != ActorType.PERSON:
                error = Said(
                    i18n.gettext(
                        request, N_("There is no member named %(name)s."), name=values["admin"]
                    ),
                    "admin",
                )
        if error is not None:
            return await _groups_page(request, session, values, error, 400)
        group = await actors.create_group(
            session,
            values["name"],
            values["title"],
            values["summary"].replace("\r\n", "\n"),
            bool(values["manual_approval"]),
        )
        if admin is not None:
            await actors.join_group(session, group, admin, Role.ADMIN)
    return done(
        request, "/admin/groups", N_("The group %(name)s was created."), name=group.username
    )


# Members


async def _members_page(
    request: Request, session: AsyncSession, error: str | None, status_code: int = 200
) -> Response:
    members = list(
        await session.scalars(
            select(LocalActor)
            .where(LocalActor.type == ActorType.PERSON)
            .order_by(LocalActor.username)
        )
    )
    return page(request, "admin_members.html", {"members": members, "error": error}, status_code)


async def members(request: Request) -> Response:
    async with runtime_of(request).sessions() as session:
        await signed_in_admin(request, session)
        return await _members_page(request, session, None)


async def member_admin(request: Request) -> Response:
    form = await security.checked_form(request)
    make_admin = form.get("is_admin") == "1"
    async with runtime_of(request).sessions() as session, session.begin():
        await signed_in_admin(request, session)
        raw_id = request.path_params["member_id"]
        target = await session.get(LocalActor, int(raw_id)) if raw_id.isdigit() else None
        if target is None or target.type != ActorType.PERSON:
            return await _members_page(
                request, session, i18n.gettext(request, N_("There is no such member.")), 404
            )
        if target.is_admin and not make_admin:
            admins = await session.scalar(
                select(func.count())
                .select_from(LocalActor)
                .where(LocalActor.type == ActorType.PERSON, LocalActor.is_admin.is_(True))
            )
            if (admins or 0) <= 1:
                error = i18n.gettext(
                    request,
                    N_("%(name)s is the last instance admin: make someone else an admin first."),
                    name=target.username,
                )
                return await _members_page(request, session, error, 400)
        target.is_admin = make_admin
        username = target.username
    if make_admin:
        return done(
            request, "/admin/members", N_("%(name)s is now an instance admin."), name=username
        )
    return done(
        request, "/admin/members", N_("%(name)s is no longer an instance admin."), name=username
    )


# Queue health

STATE_LABELS = {
    DeliveryState.PENDING: N_("Pending"),
    DeliveryState.SENT: N_("Sent"),
    DeliveryState.GONE: N_("Gone"),
    DeliveryState.REJECTED: N_("Rejected"),
    DeliveryState.FAILED: N_("Failed"),
}


MAIL_LABELS = (
    (MailState.PENDING, N_("Pending")),
    (MailState.SENT, N_("Sent")),
    (MailState.FAILED, N_("Failed")),
)


async def _queue_page(
    request: Request, session: AsyncSession, host: str, error: str | None, status_code: int = 200
) -> Response:
    queue = await status.queue_status(session)
    unavailable = list(
        await session.scalars(
            select(Host).where(Host.unavailable_since.is_not(None)).order_by(Host.host)
        )
    )
    deliveries = [
        (str(label), queue.deliveries.get(str(state), 0)) for state, label in STATE_LABELS.items()
    ]
    return page(
        request,
        "admin_queue.html",
        {
            "queue": queue,
            "deliveries": deliveries,
            "mail": [(str(label), queue.mail.get(str(state), 0)) for state, label in MAIL_LABELS],
            "mail_enabled": runtime_of(request).settings.mail_enabled,
            "unavailable": unavailable,
            "host": host,
            "error": error,
        },
        status_code,
    )


async def queue(request: Request) -> Response:
    async with runtime_of(request).sessions() as session:
        await signed_in_admin(request, session)
        return await _queue_page(request, session, "", None)


async def queue_retry(request: Request) -> Response:
    form = await security.checked_form(request)
    host = field(form, "host").lower()
    async with runtime_of(request).sessions() as session, session.begin():
        await signed_in_admin(request, session)
        if (
            not host
            or len(host) > HOST_MAX
            or not _control_free(host, allow_newlines=False)
            or " " in host
        ):
            error = i18n.gettext(
                request,
                N_("Enter a host as the queue shows it, like example.org or example.org:8443."),
            )
            return await _queue_page(request, session, host[:HOST_MAX], error, 400)
        count = await status.retry_host(session, host)
    return done(
        request,
        "/admin/queue",
        N_("%(count)s deliveries to %(host)s are due now."),
        count=count,
        host=host,
    )


routes = [
    Route("/admin", overview, methods=["GET"]),
    Route("/admin/instance", instance_form, methods=["GET"]),
    Route("/admin/instance", instance_save, methods=["POST"]),
    Route("/admin/groups", groups, methods=["GET"]),
    Route("/admin/groups", group_create, methods=["POST"]),
    Route("/admin/members", members, methods=["GET"]),
    Route("/admin/members/{member_id}/admin", member_admin, methods=["POST"]),
    Route("/admin/queue", queue, methods=["GET"]),
    Route("/admin/queue/retry", queue_retry, methods=["POST"]),
]
