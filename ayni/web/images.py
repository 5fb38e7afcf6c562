"""A group's avatar and banner: its admins upload them on the members page; everyone (and every
server) fetches them at an address holding their SHA-256, cached for a year.

The upload's body is capped as it arrives (`security.checked_upload_form`, 413 beyond); what is
in it is refused with a 400 unless `models.images.prepare` can decode and re-encode it.
"""

import re

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import access, flash, members, security
from ayni.web.i18n import N_
from models import images, profiles
from models.actors import Role
from models.runtime import Runtime

# The file, and room for the form's other fields and the multipart framing.
MAX_UPLOAD = images.MAX_BYTES + 64 * 1024
NO_FILE = N_("Choose an image file to upload.")
SAVED = {
    images.Role.AVATAR: N_("The group's avatar was saved."),
    images.Role.BANNER: N_("The group's banner was saved."),
}
_FILE_NAME = re.compile(r"([0-9a-f]{64})\.(jpg|png)")


async def upload(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        role = images.Role(request.path_params["role"])
    except ValueError:
        raise HTTPException(404) from None
    async with runtime.sessions() as session:  # outsiders are refused before the body is read
        me = await access.member(request, session)
        await access.group(session, request.path_params["name"], me, Role.ADMIN)
    form = await security.checked_upload_form(request, MAX_UPLOAD)
    try:
        sent = form.get("image")
        data = await sent.read(images.MAX_BYTES + 1) if isinstance(sent, UploadFile) else b""
    finally:
        await form.close()
    if not data:
        return await members.show(request, NO_FILE, 400)
    try:
        prepared = images.prepare(data, role)  # decoding is CPU work, but bounded by the caps
    except images.Refused as refused:
        return await members.show(request, str(refused), 400)
    async with runtime.sessions() as session, session.begin():
        me = await access.member(request, session)
        group = await access.group(session, request.path_params["name"], me, Role.ADMIN)
        await images.put(session, group.id, role, prepared)
        await profiles.announce(session, runtime, group)
    flash.flash(request, SAVED[role])
    return RedirectResponse(f"/groups/{group.username}/members#images", status_code=303)


async def image(request: Request) -> Response:
    matched = _FILE_NAME.fullmatch(request.path_params["file"])
    if matched is None:
        raise HTTPException(404)
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        found = await images.find(session, matched[1])
        data = found.data if found is not None else b""
    if found is None:
        raise HTTPException(404)
    return Response(
        data,
        media_type=found.media_type,
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )


routes = [
    Route("/groups/{name}/images/{role}", upload, methods=["POST"]),
    Route("/images/{file}", image, methods=["GET"]),
]
