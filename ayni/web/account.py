"""A member's own account (`/my/account`): her e-mail address (`models.mail`), her password,
what the instance holds about her, as a JSON download, and deleting the account for good
(`models.accounts`),
after typing her username. Also the links e-mail messages carry: confirming an address, and
unsubscribing, which works without signing in (RFC 8058's one-click POST has no session)."""

import json

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ayni.web import access, flash, i18n, render, security
from ayni.web.i18n import N_
from ayni.web.logins import LoginAttempts
from ayni.web.pages import TOO_MANY
from models import accounts, alerts, mail, member_sessions, passwords
from models.runtime import Runtime

NOT_CONFIRMED = N_("Type your username to confirm: the account was not deleted.")
LAST_ADMIN = N_(
    "You are the last admin of %(groups)s: make someone else an admin there first. "
    "The account was not deleted."
)
ONLY_ADMIN = N_(
    "You are this instance's only admin: make someone else an admin first. "
    "The account was not deleted."
)
EMAIL_SET = N_(
    "A confirmation link was sent to %(address)s. Nothing else is sent to it until you open it."
)
EMAIL_INVALID = N_("That is not an e-mail address: nothing was changed.")
ALERTS_SAVED = N_("Your notification settings are saved.")
QUIET_BOTH = N_("Give both times of your quiet hours, or neither.")
QUIET_TIME = N_("Give times like 22:00.")
NO_ZONE = N_("Not a time zone we know: give one like Europe/Madrid or America/Lima.")
DELETED = N_("Your account is deleted. Other servers were asked to forget it too.")
NOT_CURRENT = N_("That is not your current password.")
TOO_SHORT = N_("A password needs at least %(count)s characters.")
DIFFERENT = N_("The two new passwords differ.")
PASSWORD_CHANGED = N_(
    "Your password is changed. Anyone else signed in as you, in another browser, is signed out."
)


async def _page(
    request: Request,
    error: str | None = None,
    status_code: int = 200,
    email_error: str | None = None,
    alert_errors: dict[str, str] | None = None,
    switches: alerts.AlertSettings | None = None,
    password_errors: dict[str, str] | None = None,
) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
        email = await mail.address_of(session, who)
        switches = switches or await alerts.settings_of(session, who.id)
    response = render(
        request,
        "account.html",
        {
            "member": who,
            "error": error,
            "flash": flash.take(request),
            "mail_enabled": runtime.settings.mail_enabled,
            "email": email,
            "email_error": email_error,
            "alerts": switches,
            "alert_errors": alert_errors or {},
            "languages": i18n.LANGUAGES,
            "password_errors": password_errors or {},
            "password_min_length": passwords.MIN_LENGTH,
        },
        400 if email_error or alert_errors or password_errors else status_code,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def account_page(request: Request) -> Response:
    return await _page(request)


async def export(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
        data = await accounts.export(session, runtime.uris, who, runtime.seal)
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="ayni-{who.username}.json"',
            "Cache-Control": "no-store",
        },
    )


async def delete(request: Request) -> Response:
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    typed = str(form.get("confirm_username", "")).strip().lower()
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
        if typed != who.username.lower():
            problem = i18n.gettext(request, NOT_CONFIRMED)
        else:
            try:
                await accounts.delete_account(session, runtime.uris, who)
                problem = None
            except accounts.LastAdmin as refused:
                problem = _refusal(request, refused.groups)
    if problem is not None:
        return await _page(request, problem, 400)
    request.session.clear()  # her sessions ended with her account
    flash.flash(request, DELETED)
    return RedirectResponse("/", status_code=303)


async def set_email(request: Request) -> Response:
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    if not runtime.settings.mail_enabled:
        return RedirectResponse("/my/account", status_code=303)
    try:
        address = mail.check_address(str(form.get("address", "")))
    except mail.InvalidAddress:
        return await _page(request, email_error=i18n.gettext(request, EMAIL_INVALID))
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
        await mail.set_address(session, runtime.settings, who, address)
    flash.flash(request, EMAIL_SET, address=address)
    return RedirectResponse("/my/account", status_code=303)


def _minutes(text: str) -> int | None:
    """`HH:MM` (a time input's value) as minutes after midnight; None for an empty field."""
    if not text:
        return None
    hours, _, minutes = text.partition(":")
    minutes = minutes[:2]  # "22:00:00" from some browsers
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise ValueError(text)
    return int(hours) * 60 + int(minutes)


def _read_switches(
    form: FormData, member_id: int
) -> tuple[alerts.AlertSettings, str, dict[str, str]]:
    """Her switches, language and the errors by field, as the form gives them."""
    errors: dict[str, str] = {}
    switches = alerts.defaults(member_id)
    switches.urgent_calls = form.get("urgent_calls") == "on"
    switches.moderation = form.get("moderation") == "on"
    responses, digest = str(form.get("responses", "")), str(form.get("digest", ""))
    if responses in {str(choice) for choice in alerts.Responses}:
        switches.responses = responses
    if digest in {str(choice) for choice in alerts.Digest}:
        switches.digest = digest
    try:
        switches.quiet_from = _minutes(str(form.get("quiet_from", "")).strip())
        switches.quiet_until = _minutes(str(form.get("quiet_until", "")).strip())
        if (switches.quiet_from is None) != (switches.quiet_until is None):
            errors["quiet_until"] = QUIET_BOTH
    except ValueError:
        errors["quiet_until"] = QUIET_TIME
    switches.timezone = str(form.get("timezone", "")).strip()[:64] or "UTC"
    if alerts.zone(switches.timezone).key != switches.timezone:
        errors["timezone"] = NO_ZONE
    language = str(form.get("language", ""))
    return switches, language if language in i18n.LANGUAGES else i18n.SOURCE, errors


async def set_alerts(request: Request) -> Response:
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
        switches, language, errors = _read_switches(form, who.id)
        if not errors:
            await alerts.save(session, switches)
            who.language = language
            security.remember_zone(request, switches.timezone)
    if errors:
        shown = {field: i18n.gettext(request, message) for field, message in errors.items()}
        return await _page(request, alert_errors=shown, switches=switches)
    flash.flash(request, ALERTS_SAVED)
    return RedirectResponse("/my/account#alerts-heading", status_code=303)


async def change_password(request: Request) -> Response:
    """Her current password, then the new one twice. Wrong current passwords count as failed
    sign-ins (a borrowed browser is not a way to guess it); every other session ends."""
    form = await security.checked_form(request)
    runtime: Runtime = request.app.state.runtime
    current = str(form.get("current_password", ""))[:1024]
    new = str(form.get("new_password", ""))[:1024]
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
    attempts: LoginAttempts = request.app.state.login_attempts
    address = request.client.host if request.client else ""
    errors = {}
    if attempts.wait(who.username, address) > 0:
        errors["current_password"] = i18n.gettext(request, TOO_MANY)
    elif not await run_in_threadpool(passwords.verify_password, who.password_hash, current):
        attempts.failed(who.username, address)
        errors["current_password"] = i18n.gettext(request, NOT_CURRENT)
    if new != str(form.get("new_password_again", ""))[:1024]:
        errors["new_password_again"] = i18n.gettext(request, DIFFERENT)
    if not errors:
        try:
            password_hash = await run_in_threadpool(passwords.hash_password, new)
        except ValueError:  # the one rule, models.passwords's
            errors["new_password"] = i18n.gettext(request, TOO_SHORT, count=passwords.MIN_LENGTH)
    if errors:
        return await _page(request, password_errors=errors)
    async with runtime.sessions() as session, session.begin():
        who = await access.member(request, session)
        await member_sessions.new_password(session, who, password_hash)
    await security.sign_in(request, who)  # a session of her own again, the only one
    flash.flash(request, PASSWORD_CHANGED)
    return RedirectResponse("/my/account", status_code=303)


async def confirm_email(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        try:
            row = await mail.confirm(session, request.path_params["token"])
            state, address = "confirmed", row.address
        except LookupError:
            state, address = "unknown", ""
    return _email_page(request, state, address, 200 if state == "confirmed" else 404)


async def unsubscribe_page(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        row = await mail.by_unsubscribe_token(session, request.path_params["token"])
    if row is None:
        return _email_page(request, "unknown", "", 404)
    state = "unsubscribed" if row.unsubscribed_at is not None else "unsubscribe"
    return _email_page(request, state, row.address)


async def unsubscribe(request: Request) -> Response:
    """The one-click POST (RFC 8058) and the page's button: no session, no CSRF token (the
    link's token is the proof), and nothing else can be done with it."""
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session, session.begin():
        done = await mail.unsubscribe(session, request.path_params["token"])
    if not done:
        return _email_page(request, "unknown", "", 404)
    return _email_page(request, "unsubscribed", "")


def _email_page(request: Request, state: str, address: str, status_code: int = 200) -> Response:
    response = render(
        request,
        "email.html",
        {"state": state, "address": address, "token": request.path_params["token"]},
        status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _refusal(request: Request, groups: list[str]) -> str:
    if not groups:
        return i18n.gettext(request, ONLY_ADMIN)
    return i18n.gettext(request, LAST_ADMIN, groups=", ".join(f"@{name}" for name in groups))


routes = [
    Route("/my/account", account_page, methods=["GET"]),
    Route("/my/account/export", export, methods=["GET"]),
    Route("/my/account/delete", delete, methods=["POST"]),
    Route("/my/account/email", set_email, methods=["POST"]),
    Route("/my/account/alerts", set_alerts, methods=["POST"]),
    Route("/my/account/password", change_password, methods=["POST"]),
    Route("/email/confirm/{token}", confirm_email, methods=["GET"]),
    Route("/email/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
    Route("/email/unsubscribe/{token}", unsubscribe, methods=["POST"]),
]
