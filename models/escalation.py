"""The escalation ladder of a call still short of people.

From the call's `short_by` moment (its needed-by, else two hours before it starts) to its start,
while fewer people are coming than it needs, three steps, each once and in order:

1. at `short_by`: the group's members are told in the app (a notice);
2. a third of the way to the start: a new short `Note` from the group to its followers, in reply
   to the call and linking it (Mastodon ignores a second `Announce` of the same object, so the
   call is never re-boosted);
3. two thirds of the way: a direct message to each allied group (a remote `Group` the group
   follows and that follows it back) asking it to relay the call, once.

A members-only call never leaves the instance: it has step 1 only. Step 3 needs a public call
that allows relaying (`Item.ally_relay`). The ladder stops as soon as the number is reached. What
goes out names the call, its time and how many are missing: never the meeting point, never a
member.
"""

from datetime import datetime
from html import escape
from typing import Any
from uuid import uuid4

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import calls, itemtext, vocab
from federation.itemterms import Kind, Status
from federation.visibility import Visibility
from models import alerts, commitments, items, messages, notices
from models.actors import LocalActor, Membership
from models.alerts import AlertKind
from models.alliances import allies
from models.calls import Commitment, CommitmentState, Escalation
from models.items import CALL_LEAD, Item
from models.notices import NoticeKind
from models.publish import publish
from models.runtime import Runtime

STEPS = (1, 2, 3)
_LINK = "\x00link\x00"  # where the call's link goes in a message, once the text is escaped


def ladder(item: Item) -> tuple[int, ...]:
    """The steps this call has: members-only calls only the first; the relay only for public
    calls that allow it."""
    if item.visibility == Visibility.MEMBERS:
        return (1,)
    if item.visibility == Visibility.PUBLIC and item.ally_relay:
        return STEPS
    return (1, 2)


def step_time(item: Item, step: int) -> datetime:
    """Step 1 at `short_by`, the others a third and two thirds of the way to the start."""
    short_by, starts = item.short_by, item.starts_at
    assert short_by is not None and starts is not None
    return short_by + (starts - short_by) * (step - 1) / 3


def next_step(item: Item) -> int | None:
    """The next step of this call's ladder not taken yet, or None when every one was."""
    return next((step for step in ladder(item) if step > item.escalation_step), None)


async def shortfall(session: AsyncSession, item: Item) -> tuple[int, int]:
    """(coming, needed)."""
    coming = (await items.counts(session, item))[CommitmentState.COMING]
    return coming, item.people_wanted or 0


async def escalate(
    session: AsyncSession,
    runtime: Runtime,
    item: Item,
    now: datetime,
    *,
    dry_run: bool = False,
    force: bool = False,
) -> str | None:
    """Take the call's next step when it is due and the call is still short: what was done (or,
    with `dry_run`, what would be), or None when there is nothing to do. `force`: the next step
    now, whatever the time."""
    if not commitments.is_open(item) or not item.people_wanted:
        return None
    step = next_step(item)
    if step is None:
        return None
    assert item.starts_at is not None
    if not force and (now < step_time(item, step) or now >= item.starts_at):
        return None
    coming, needed = await shortfall(session, item)
    if coming >= needed:
        return None
    group = await session.get(LocalActor, item.group_id)
    assert group is not None
    missing = needed - coming
    take = {1: _notify_members, 2: _note_to_followers, 3: _ask_allies}[step]
    detail = await take(session, runtime, item, group, missing, now, dry_run)
    prefix = f"step {step}" + (" (dry run)" if dry_run else "")
    report = f"{prefix}: {detail} ({coming} of {needed} coming)"
    if step == max(ladder(item)) and len(ladder(item)) < len(STEPS):
        report += "; " + _why_last(item)
    if not dry_run:
        item.escalation_step = step
        session.add(Escalation(item_id=item.id, step=step, detail=report, taken_at=now))
        await session.flush()
    return report


def _why_last(item: Item) -> str:
    if item.visibility == Visibility.MEMBERS:
        return "a members-only call never leaves the instance: this is its only step"
    if item.visibility != Visibility.PUBLIC:
        return "only public calls ask allied groups to relay them: this is its last step"
    return "this call does not ask allied groups to relay it: this is its last step"


async def _notify_members(
    session: AsyncSession,
    runtime: Runtime,
    item: Item,
    group: LocalActor,
    missing: int,
    now: datetime,
    dry_run: bool,
) -> str:
    # Those already coming need no reminder.
    coming = select(Commitment.member_id).where(
        Commitment.item_id == item.id,
        Commitment.member_id.is_not(None),
        Commitment.state == CommitmentState.COMING,
    )
    members = list(
        await session.scalars(
            select(Membership.member_id)
            .where(Membership.group_id == group.id, Membership.member_id.not_in(coming))
            .order_by(Membership.id)
        )
    )
    if dry_run:
        return f"would notify {_members(len(members))} of @{group.username} in the app"
    sent = await notices.notify(session, members, NoticeKind.CALL_SHORT, item_id=item.id, now=now)
    await alerts.record(
        session, AlertKind.CALL_SHORT, members, item_id=item.id, group_id=group.id, now=now
    )
    return f"notified {_members(sent)} of @{group.username} in the app"


def _members(number: int) -> str:
    return f"{number} member" + ("" if number == 1 else "s")


def _html(message: str, link: str) -> str:
    """The message as a paragraph, its link a link."""
    anchor = f'<a href="{escape(link)}">{escape(link)}</a>'
    return "<p>" + escape(message).replace(escape(_LINK), anchor) + "</p>"


def _message(item: Item, group: LocalActor, key: str, missing: int) -> str:
    """The message in the group's language, as HTML, linking the call."""
    assert item.starts_at is not None
    when = itemtext.when(item.starts_at, item.ends_at, item.timezone)
    text = calls.text(group.language, key, missing=missing, title=item.title, when=when, link=_LINK)
    return _html(text, item.uri)


def still_needed_note(
    runtime: Runtime, item: Item, group: LocalActor, missing: int, now: datetime
) -> dict[str, Any]:
    """Step 2's Note: from the group, addressed like the call, in reply to it."""
    to, cc = items.addressing(runtime.uris, item, group)
    content = _message(item, group, "still_needed", missing)
    return {
        "id": runtime.uris.object(uuid4().hex),
        "type": "Note",
        "attributedTo": runtime.uris.actor(group.username),
        "to": to,
        "cc": cc,
        "inReplyTo": item.uri,
        "published": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "content": content,
        "contentMap": {group.language: content},
    }


async def _note_to_followers(
    session: AsyncSession,
    runtime: Runtime,
    item: Item,
    group: LocalActor,
    missing: int,
    now: datetime,
    dry_run: bool,
) -> str:
    audience = "followers" if item.visibility == Visibility.FOLLOWERS else "public, to followers"
    if dry_run:
        return f"would publish a Note from @{group.username} ({audience}): still {missing} needed"
    note = still_needed_note(runtime, item, group, missing, now)
    create = {
        "@context": vocab.AS_CONTEXT,
        "id": runtime.uris.activity(uuid4().hex),
        "type": "Create",
        "actor": note["attributedTo"],
        "published": note["published"],
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    }
    await publish(session, group, create, Visibility(item.visibility), followers=True)
    return f"published a Note from @{group.username} ({audience}): {note['id']}"


async def _ask_allies(
    session: AsyncSession,
    runtime: Runtime,
    item: Item,
    group: LocalActor,
    missing: int,
    now: datetime,
    dry_run: bool,
) -> str:
    found = await allies(session, group)
    if not found:
        return "no allied group to ask to relay it"
    names = ", ".join(messages.handle_of(ally) for ally in found)
    if dry_run:
        return f"would ask {len(found)} allied groups to relay it: {names}"
    html = _message(item, group, "relay_request", missing)
    for ally in found:
        await messages.direct_message(
            session, runtime.uris, group, ally, html, in_reply_to=item.uri
        )
    return f"asked {len(found)} allied groups to relay it: {names}"


async def escalate_due(session: AsyncSession, runtime: Runtime, now: datetime) -> int:
    """For the periodic job: the next step of each short call whose step is due (one step per
    call per run; the next run takes the next). How many steps were taken."""
    due = list(
        await session.scalars(
            select(Item)
            .where(
                Item.kind == Kind.CALL,
                Item.deleted_at.is_(None),
                Item.status == Status.SCHEDULED,
                Item.people_wanted.is_not(None),
                Item.escalation_step < max(STEPS),
                Item.starts_at > now,
                or_(
                    Item.needed_by <= now,
                    and_(Item.needed_by.is_(None), Item.starts_at <= now + CALL_LEAD),
                ),
            )
            .order_by(Item.id)
            .limit(200)
            # Two processes running the job never take the same step twice.
            .with_for_update(skip_locked=True)
        )
    )
    return sum([await escalate(session, runtime, item, now) is not None for item in due])


async def steps_taken(session: AsyncSession, item: Item) -> list[Escalation]:
    return list(
        await session.scalars(
            select(Escalation).where(Escalation.item_id == item.id).order_by(Escalation.step)
        )
    )
