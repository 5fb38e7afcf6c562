"""The admins' federation page: which remote groups our groups follow and which are their allies,
domain blocks (with Mastodon CSV import and export) and allowlist mode.

Every change to blocks, allowed domains or the mode is followed by `runtime.blocklist.forget()`:
the inbox keeps the rules in memory for a few seconds, and this process just changed them. (The
CLI runs in another process and relies on that short expiry instead.)
"""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ayni import following
from ayni.web import confirmation, i18n, security
from ayni.web.admin import done, field, page, runtime_of, signed_in_admin
from ayni.web.i18n import N_
from federation.errors import FederationError
from models import alliances, policy
from models import following as follows
from models.actors import ActorType, Instance, LocalActor
from models.queue import DomainAllow
from models.remote import RemoteActor
from models.remote_actors import remote_actor

HANDLE_MAX = 500
REASON_MAX = 1000
CSV_MAX_BYTES = 512 * 1024
PAGE = "/admin/federation"


async def _context(session: AsyncSession) -> dict[str, Any]:
    groups = list(
        await session.scalars(
            select(LocalActor)
            .where(LocalActor.type == ActorType.GROUP)
            .order_by(LocalActor.username)
        )
    )
    return {
        "groups": groups,
        "relations": {group.username: await follows.relations(session, group) for group in groups},
        "allies": {group.username: await alliances.allies(session, group) for group in groups},
        "blocks": await policy.blocked_domains(session),
        "allowed": list(await session.scalars(select(DomainAllow).order_by(DomainAllow.domain))),
        "mode": await session.scalar(select(Instance.federation_mode)) or policy.Mode.OPEN,
        "modes": [policy.Mode.OPEN, policy.Mode.ALLOWLIST],
        "values": {},
        "errors": {},
        "report": None,
    }


async def _page(
    request: Request, session: AsyncSession, status_code: int = 200, **overrides: Any
) -> Response:
    """The federation page; `overrides` carry what was typed and the error of a refused form."""
    context = await _context(session)
    context.update(overrides)
    return page(request, "admin_federation.html", context, status_code)


async def federation(request: Request) -> Response:
    async with runtime_of(request).sessions() as session:
        await signed_in_admin(request, session)
        return await _page(request, session)


async def _refused(
    request: Request,
    session: AsyncSession,
    form: str,
    message: str,
    values: dict[str, str],
    status_code: int = 400,
    **variables: str,
) -> Response:
    """Re-renders the page with `message` next to `form` and the typed `values` kept."""
    error = i18n.gettext(request, message, **variables)
    return await _page(request, session, status_code, values=values, errors={form: error})


# Follows between groups


async def follow(request: Request) -> Response:
    form = await security.checked_form(request)
    values = {"group": field(form, "group"), "handle": field(form, "handle")}
    runtime = runtime_of(request)
    async with runtime.sessions() as session:
        await signed_in_admin(request, session)
        group = await _local_group(session, values["group"])
        if group is None:
            return await _refused(
                request, session, "follow", N_("Choose one of this instance's groups."), values
            )
        if not values["handle"] or len(values["handle"]) > HANDLE_MAX:
            return await _refused(
                request,
                session,
                "follow",
                N_("Enter a handle like @group@example.org or the address of its page."),
                values,
            )
    # The network comes first, outside any transaction; the Follow itself goes out with the workers.
    try:
        remote = await _resolve(request, values["handle"])
        async with runtime.sessions() as session, session.begin():
            await signed_in_admin(request, session)  # still, after the lookup: it can take seconds
            await follows.follow(session, runtime.uris, group, remote)
    except (following.FollowError, FederationError, ValueError, LookupError):
        async with runtime.sessions() as session:
            return await _refused(
                request,
                session,
                "follow",
                N_(
                    "%(handle)s could not be found: check the handle "
                    "and that its server is reachable."
                ),
                values,
                handle=values["handle"],
            )
    return done(
        request,
        PAGE,
        N_("%(group)s asked to follow %(actor)s; the follow is pending until it is accepted."),
        group=group.username,
        actor=remote.uri,
    )


async def ally(request: Request) -> Response:
    """The group's own mark: another group is its ally (or never is), whatever the follows say."""
    form = await security.checked_form(request)
    values = {"group": field(form, "group"), "handle": field(form, "handle")}
    on = field(form, "allied") != "no"
    runtime = runtime_of(request)
    async with runtime.sessions() as session:
        await signed_in_admin(request, session)
        group = await _local_group(session, values["group"])
        if group is None or not values["handle"] or len(values["handle"]) > HANDLE_MAX:
            return await _refused(
                request,
                session,
                "ally",
                N_("Choose one of this instance's groups and a handle."),
                values,
            )
    try:
        remote = await _resolve(request, values["handle"])
        async with runtime.sessions() as session, session.begin():
            await signed_in_admin(request, session)
            await alliances.mark(session, group, remote, on)
    except alliances.NotAGroup:
        async with runtime.sessions() as session:
            return await _refused(
                request, session, "ally", N_("Only a group can be an ally."), values
            )
    except (following.FollowError, FederationError, ValueError, LookupError):
        async with runtime.sessions() as session:
            return await _refused(
                request,
                session,
                "ally",
                N_(
                    "%(handle)s could not be found: check the handle "
                    "and that its server is reachable."
                ),
                values,
                handle=values["handle"],
            )
    message = (
        N_("%(group)s counts %(actor)s as an ally.")
        if on
        else N_("%(group)s does not count %(actor)s as an ally, even if they follow each other.")
    )
    return done(request, PAGE, message, group=group.username, actor=remote.uri)


async def _local_group(session: AsyncSession, name: str) -> LocalActor | None:
    found = (
        await session.scalar(select(LocalActor).where(LocalActor.username == name))
        if name
        else None
    )
    return found if found is not None and found.type == ActorType.GROUP else None


async def _resolve(request: Request, handle: str) -> RemoteActor:
    """A handle goes through WebFinger (as `ayni federation follow` does); a URL is the actor's
    own."""
    runtime = runtime_of(request)
    if handle.startswith(("https://", "http://")):
        return await remote_actor(runtime, handle)
    return await following.resolve_actor(runtime, handle)


async def unfollow(request: Request) -> Response:
    form = await security.checked_form(request)
    runtime = runtime_of(request)
    async with runtime.sessions() as session, session.begin():
        await signed_in_admin(request, session)
        group = await _local_group(session, field(form, "group"))
        remote = await session.scalar(
            select(RemoteActor).where(RemoteActor.uri == field(form, "actor"))
        )
        if (
            group is None
            or remote is None
            or not await follows.unfollow(session, runtime.uris, group, remote)
        ):
            return await _refused(
                request, session, "follows", N_("That group does not follow that actor."), {}, 404
            )
    return done(
        request,
        PAGE,
        N_("%(group)s no longer follows %(actor)s."),
        group=group.username,
        actor=remote.uri,
    )


# Domain blocks


async def block(request: Request) -> Response:
    form = await security.checked_form(request)
    values = {"domain": field(form, "domain"), "reason": field(form, "reason")}
    async with runtime_of(request).sessions() as session, session.begin():
        await signed_in_admin(request, session)
        if len(values["reason"]) > REASON_MAX:
            return await _refused(
                request,
                session,
                "block",
                N_("The reason is too long: at most %(max)s characters."),
                values,
                max=str(REASON_MAX),
            )
        try:
            blocked = await policy.block_domain(session, values["domain"], values["reason"])
        except ValueError:
            return await _refused(
                request, session, "block", _NOT_A_DOMAIN, values, domain=values["domain"]
            )
        domain = blocked.domain
    runtime_of(request).blocklist.forget()
    return done(
        request,
        PAGE,
        N_(
            "%(domain)s and its subdomains are blocked; follows with them were removed "
            "and deliveries to them cancelled."
        ),
        domain=domain,
    )


_NOT_A_DOMAIN = N_("%(domain)s is not a domain name, like example.org.")


async def unblock(request: Request) -> Response:
    form = await security.checked_form(request)
    domain = field(form, "domain")
    async with runtime_of(request).sessions() as session, session.begin():
        await signed_in_admin(request, session)
        try:
            removed = await policy.unblock_domain(session, domain)
        except ValueError:
            removed = False
        if not removed:
            return await _refused(
                request, session, "blocks", N_("%(domain)s is not blocked."), {}, 404, domain=domain
            )
    runtime_of(request).blocklist.forget()
    return done(
        request,
        PAGE,
        N_("%(domain)s is no longer blocked."),
        domain=policy.normalise_domain(domain),
    )


async def import_blocks(request: Request) -> Response:
    form = await security.checked_upload_form(request, CSV_MAX_BYTES)
    try:
        text = await _csv_text(form.get("file"), form.get("csv"))
    finally:
        await form.close()
    async with runtime_of(request).sessions() as session, session.begin():
        await signed_in_admin(request, session)
        if text is None:
            return await _refused(request, session, "import", N_("The file is not UTF-8 text."), {})
        if not text.strip():
            return await _refused(
                request, session, "import", N_("Paste a block list or choose a CSV file."), {}
            )
        report = await policy.import_blocklist(session, text)
    runtime_of(request).blocklist.forget()
    # The report is shown at once rather than after a redirect: it can be long, and sending the
    # same list again only blocks the same domains again.
    async with runtime_of(request).sessions() as session:
        return await _page(request, session, report=report)


async def _csv_text(upload: Any, pasted: Any) -> str | None:
    """The uploaded file when one was chosen, else the pasted text; None if it is not UTF-8."""
    if isinstance(upload, UploadFile) and upload.filename:
        try:
            return (await upload.read(CSV_MAX_BYTES + 1))[:CSV_MAX_BYTES].decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
    return pasted if isinstance(pasted, str) else ""


async def export_blocks(request: Request) -> Response:
    async with runtime_of(request).sessions() as session:
        await signed_in_admin(request, session)
        text = policy.export_blocklist(await policy.blocked_domains(session))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="domain_blocks.csv"',
        },
    )


# Allowlist mode


async def set_mode(request: Request) -> Response:
    form = await security.checked_form(request)
    mode = field(form, "mode")
    async with runtime_of(request).sessions() as session, session.begin():
        await signed_in_admin(request, session)
        if mode not in (policy.Mode.OPEN, policy.Mode.ALLOWLIST):
            return await _refused(
                request, session, "mode", N_("Choose open federation or allowlist mode."), {}
            )
        empty = await session.scalar(select(DomainAllow.id).limit(1)) is None
        if mode == policy.Mode.ALLOWLIST and empty and not confirmation.confirmed(form):
            return confirmation.ask(
                request,
                question=N_("Switch to allowlist mode with an empty list?"),
                explanation=N_(
                    "No domain is on the allowlist: this instance would stop federating with "
                    "every other server. Their followers stop receiving your groups' posts, and "
                    "nothing from them arrives."
                ),
                button=N_("Switch to allowlist mode"),
                back=PAGE + "#mode-heading",
                fields={"mode": mode},
            )
        await policy.set_mode(session, mode)
    runtime_of(request).blocklist.forget()
    if mode == policy.Mode.ALLOWLIST:
        return done(
            request,
            PAGE,
            N_(
                "Allowlist mode is on: only the allowed domains can reach this instance "
                "or receive from it."
            ),
        )
    return done(request, PAGE, N_("Open federation is on: every domain but the blocked ones."))


async def allow(request: Request) -> Response:
    form = await security.checked_form(request)
    values = {"allow": field(form, "domain")}
    async with runtime_of(request).sessions() as session, session.begin():
        await signed_in_admin(request, session)
        try:
            allowed = await policy.allow_domain(session, values["allow"])
        except ValueError:
            return await _refused(
                request, session, "allow", _NOT_A_DOMAIN, values, domain=values["allow"]
            )
        domain = allowed.domain
    runtime_of(request).blocklist.forget()
    return done(request, PAGE, N_("%(domain)s and its subdomains are allowed."), domain=domain)


async def disallow(request: Request) -> Response:
    form = await security.checked_form(request)
    domain = field(form, "domain")
    async with runtime_of(request).sessions() as session, session.begin():
        await signed_in_admin(request, session)
        try:
            removed = await policy.disallow_domain(session, domain)
        except ValueError:
            removed = False
        if not removed:
            return await _refused(
                request,
                session,
                "allowed",
                N_("%(domain)s is not on the allowlist."),
                {},
                404,
                domain=domain,
            )
    runtime_of(request).blocklist.forget()
    return done(
        request,
        PAGE,
        N_("%(domain)s is no longer allowed."),
        domain=policy.normalise_domain(domain),
    )


routes = [
    Route(PAGE, federation, methods=["GET"]),
    Route(f"{PAGE}/follows", follow, methods=["POST"]),
    Route(f"{PAGE}/follows/delete", unfollow, methods=["POST"]),
    Route(f"{PAGE}/allies", ally, methods=["POST"]),
    Route(f"{PAGE}/blocks", block, methods=["POST"]),
    Route(f"{PAGE}/blocks/delete", unblock, methods=["POST"]),
    Route(f"{PAGE}/blocks/import", import_blocks, methods=["POST"]),
    Route(f"{PAGE}/blocks.csv", export_blocks, methods=["GET"]),
    Route(f"{PAGE}/mode", set_mode, methods=["POST"]),
    Route(f"{PAGE}/allowed", allow, methods=["POST"]),
    Route(f"{PAGE}/allowed/delete", disallow, methods=["POST"]),
]
