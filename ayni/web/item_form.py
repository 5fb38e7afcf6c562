"""The ask, offer and call form, shared by posting and editing: what was typed, read into a Draft
or into problems the member can fix. Nothing here touches the database.

Every value is kept as typed (`values`), so a refused form comes back filled in.
"""

from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.datastructures import FormData

from ayni.web.i18n import N_
from ayni.web.refusals import Problem
from federation.itemterms import Kind
from federation.places import Place
from federation.visibility import ITEM_VISIBILITIES, Visibility
from models import intake
from models.items import Item
from models.overflow import DEFAULT_DELAY
from models.posting import MAX_TITLE, Draft

FIELDS = (
    "group",
    "kind",
    "title",
    "body",
    "category",
    "place_name",
    "area",  # one of the group's known places (board.group_places), by name
    "latitude",
    "longitude",
    "quantity",
    "needed_by",
    "starts_at",
    "ends_at",
    "timezone",
    "meeting_point",
    "people_wanted",
    "capacity",
    "not_urgent",
    "visibility",
    # Intake (moderators): who it is for, sealed, never published (models.intake).
    "for_name",
    "for_contact",
)
MAX_BODY = 5000
MAX_SHORT = 200

VISIBILITY_LABELS = {
    Visibility.PUBLIC: N_("Public"),
    Visibility.FOLLOWERS: N_("Followers only"),
    Visibility.MEMBERS: N_("Members only"),
}
PERSONAL_DATA_KINDS = {
    "phone": N_("a phone number"),
    "email": N_("an e-mail address"),
    "street_address": N_("a street address"),
}


def values_of(form: FormData) -> dict[str, str]:
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    values["body"] = str(form.get("body", "")).replace("\r\n", "\n").strip()
    values["as_group"] = "yes" if form.get("as_group") else ""
    values["remove_meeting_point"] = "yes" if form.get("remove_meeting_point") else ""
    values["overflow"] = "yes" if form.get("overflow") else ""
    return values


def values_of_item(item: Item, category_slug: str, group_name: str) -> dict[str, str]:
    """An item's fields as the form shows them, dates in the item's own time zone."""
    zone = _zone(item.timezone) or ZoneInfo("UTC")

    def moment(value: datetime | None, shape: str) -> str:
        return value.astimezone(zone).strftime(shape) if value else ""

    def number(value: float | None) -> str:
        return "" if value is None else str(value)

    return {
        "group": group_name,
        "kind": item.kind,
        "title": item.title,
        "body": item.body_markdown,
        "category": category_slug,
        "place_name": item.place_name or "",
        "area": "",
        "latitude": number(item.latitude),
        "longitude": number(item.longitude),
        "quantity": number(item.quantity),
        "needed_by": moment(item.needed_by, "%Y-%m-%d"),
        "starts_at": moment(item.starts_at, "%Y-%m-%dT%H:%M"),
        "ends_at": moment(item.ends_at, "%Y-%m-%dT%H:%M"),
        "timezone": item.timezone,
        # Sealed: the edit page (its author's and moderators' only) fills it in from the seal.
        "meeting_point": "",
        "people_wanted": number(item.people_wanted),
        "capacity": number(item.capacity),
        "not_urgent": "" if item.urgent else "yes",
        "overflow": "" if item.overflow_at is None else "yes",
        "visibility": item.visibility,
        "as_group": "yes" if item.as_group else "",
        "remove_meeting_point": "",
        # Sealed too: the edit page fills them in for the group's moderators only.
        "for_name": "",
        "for_contact": "",
    }


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _whole(text: str, problems: list[Problem], message: str, field: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 1_000_000:
        problems.append(Problem(message, field=field))
        return None
    return int(text)


def _place(values: Mapping[str, str], problems: list[Problem]) -> Place | None:
    name, lat, lon = values["place_name"], values["latitude"], values["longitude"]
    if len(name) > MAX_SHORT:
        problems.append(Problem(N_("A place name has at most 200 characters."), field="place_name"))
        return None
    if not (lat or lon):
        return Place(name) if name else None
    try:
        latitude, longitude = float(lat), float(lon)
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise ValueError
    except ValueError:
        problems.append(
            Problem(
                N_(
                    "The approximate location needs both a latitude (-90 to 90) "
                    "and a longitude (-180 to 180), or neither."
                ),
                field="place_name",
            )
        )
        return None
    if not name:
        problems.append(
            Problem(
                N_("Give the area a name people recognise, such as a neighbourhood."),
                field="place_name",
            )
        )
        return None
    return Place(name, latitude, longitude)


def _moment(
    values: Mapping[str, str],
    field: str,
    zone: ZoneInfo | None,
    problems: list[Problem],
    end_of_day: bool = False,
) -> datetime | None:
    text = values[field]
    if not text or zone is None:
        return None
    try:
        if end_of_day:
            moment = datetime.combine(date.fromisoformat(text), time(23, 59))
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        problems.append(
            Problem(
                N_("“%(text)s” is not a date this form understands."),
                {"text": text[:40]},
                field=field,
            )
        )
        return None
    return moment.replace(tzinfo=zone)


def with_area(values: dict[str, str], places: list[tuple[str, str]]) -> None:
    """A known area chosen from the list stands for its name and coarse point; there are no
    latitude and longitude boxes to type into."""
    point = dict(places).get(values["area"])
    if point is None:
        values["area"] = ""
        return
    values["place_name"] = values["area"]
    values["latitude"], _, values["longitude"] = point.partition(",")


def draft_from(
    values: Mapping[str, str], kind: Kind, now: datetime
) -> tuple[Draft | None, list[Problem]]:
    """The Draft the form describes, or the problems that stop it (all of them at once)."""
    problems: list[Problem] = []
    title = values["title"]
    if not title:
        problems.append(Problem(N_("Give it a short title."), field="title"))
    elif len(title) > MAX_TITLE or "\n" in title:
        problems.append(
            Problem(N_("A title is one line of at most 200 characters."), field="title")
        )
    if len(values["body"]) > MAX_BODY:
        problems.append(Problem(N_("The details have at most 5000 characters."), field="body"))
    visibility = next((v for v in ITEM_VISIBILITIES if v == values["visibility"]), None)
    if visibility is None:
        # No default: who sees it is the member's choice, made on purpose.
        problems.append(Problem(N_("Choose who can see it."), field="visibility"))
    zone = _zone(values["timezone"] or "UTC")
    if zone is None:
        problems.append(
            Problem(
                N_("“%(text)s” is not a time zone this server knows, such as Europe/Madrid."),
                {"text": values["timezone"][:60]},
                field="timezone",
            )
        )
    place = _place(values, problems)
    quantity = needed_by = starts_at = ends_at = people_wanted = capacity = None
    meeting_point = None
    if kind == Kind.CALL:
        starts_at = _moment(values, "starts_at", zone, problems)
        ends_at = _moment(values, "ends_at", zone, problems)
        people_wanted = _whole(
            values["people_wanted"],
            problems,
            N_("People wanted is a whole number from 1 up."),
            "people_wanted",
        )
        capacity = _whole(
            values.get("capacity", ""),
            problems,
            N_("People at most is a whole number from 1 up."),
            "capacity",
        )
        # Left empty, the sealed meeting point stays as it is; only the checkbox removes it.
        meeting_point = (
            "" if values.get("remove_meeting_point") == "yes" else values["meeting_point"] or None
        )
        if not values["starts_at"]:
            problems.append(Problem(N_("A call needs a start date and time."), field="starts_at"))
        if not values["people_wanted"]:
            problems.append(
                Problem(N_("A call says how many people are wanted."), field="people_wanted")
            )
        if not values["place_name"]:
            problems.append(
                Problem(
                    N_("A call needs a place name, so people know roughly where it is."),
                    field="place_name",
                )
            )
        if starts_at and ends_at and ends_at < starts_at:
            problems.append(Problem(N_("A call ends after it starts."), field="ends_at"))
        if meeting_point and len(meeting_point) > MAX_SHORT:
            problems.append(
                Problem(N_("A meeting point has at most 200 characters."), field="meeting_point")
            )
    else:
        quantity = _whole(
            values["quantity"],
            problems,
            N_("The quantity is a whole number from 1 up."),
            "quantity",
        )
        needed_by = _moment(values, "needed_by", zone, problems, end_of_day=True)
        if needed_by is not None and needed_by < now:
            problems.append(
                Problem(
                    N_("The needed-by date has passed: choose today or later."), field="needed_by"
                )
            )
    overflow = values.get("overflow") == "yes" and kind != Kind.CALL
    if overflow and visibility not in (None, Visibility.PUBLIC):
        problems.append(Problem(N_("Only public items go to allied groups."), field="overflow"))
    requester = None
    try:
        requester = intake.requester(values.get("for_name"), values.get("for_contact"))
    except ValueError:
        problems.append(
            Problem(
                N_(
                    "On behalf of someone: give her name (at most 200 characters) "
                    "and, if you like, a contact (at most 500)."
                ),
                field="for_name",
            )
        )
    if problems or visibility is None:
        return None, problems
    return Draft(
        kind=kind,
        title=title,
        body_markdown=values["body"],
        category=values["category"] or "other",
        visibility=visibility,
        as_group=values["as_group"] == "yes" or requester is not None,
        quantity=quantity,
        place=place,
        needed_by=needed_by,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=values["timezone"] or "UTC",
        meeting_point=meeting_point,
        people_wanted=people_wanted,
        capacity=capacity,
        urgent=values.get("not_urgent") != "yes",
        requester=requester,
        overflow_after=DEFAULT_DELAY if overflow else None,
    ), []


def described(found: list[str], translate: Callable[[str], str]) -> str:
    """models.posting.PersonalData lists findings as "kind 'text'"; say them in plain words."""
    words = []
    for finding in found:
        kind, _, text = finding.partition(" ")
        words.append(f"{translate(PERSONAL_DATA_KINDS.get(kind, kind))}: {text}")
    return "; ".join(words)


def personal_data_problem(found: list[str], translate: Callable[[str], str]) -> Problem:
    return Problem(
        N_(
            "This looks like personal data, and it would be published: %(found)s. "
            "Remove it; people can contact you through a private reply. "
            "If it really must be there, choose “Members only”: "
            "those posts never leave this server."
        ),
        {"found": described(found, translate)},
        field="body",
    )
