"""`/groups`: the signed-in member's groups, their role in each, and what that role lets them
open."""

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ayni.web import access, render
from ayni.web.i18n import N_
from models.actors import Role, role_in
from models.runtime import Runtime

ROLE_LABELS = {Role.MEMBER: N_("Member"), Role.MODERATOR: N_("Moderator"), Role.ADMIN: N_("Admin")}


@dataclass(frozen=True)
class MyGroup:
    username: str
    name: str
    role: Role

    @property
    def moderates(self) -> bool:
        return access.RANK[self.role] >= access.RANK[Role.MODERATOR]

    @property
    def administers(self) -> bool:
        return self.role == Role.ADMIN


async def my_groups(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        me = await access.member(request, session)
        listed = []
        for group in await access.groups_of(session, me):
            role = await role_in(session, group, me)
            if role is not None:
                listed.append(MyGroup(group.username, group.name, role))
    return render(
        request,
        "groups.html",
        {
            "groups": listed,
            "role_labels": ROLE_LABELS,
            "instance_admin": me.is_admin,
        },
    )


routes = [Route("/groups", my_groups, methods=["GET"])]
