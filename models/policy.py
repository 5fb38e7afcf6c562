"""Instance policy: which servers this instance talks to at all.

A domain block covers the domain and every subdomain: the inbox answers 403 before any key
fetch, nothing is fetched from it, nothing is delivered to it, and existing follows with its
actors are removed. Block lists move between instances as CSV in Mastodon's format.
"""

import csv
import io
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.actors import Instance
from models.follows import Follow
from models.queue import Delivery, DeliveryState, DomainAllow, DomainBlock
from models.remote import RemoteActor

CSV_COLUMNS = [
    "#domain",
    "#severity",
    "#reject_media",
    "#reject_reports",
    "#public_comment",
    "#obfuscate",
]


def hostname(host: str) -> str:
    """`host[:port]` or `[v6]:port` -> the bare, lowercase name, for comparing with blocks."""
    name = host.lower()
    if name.startswith("["):
        return name[1:].partition("]")[0]
    return (name.rpartition(":")[0] if name.count(":") == 1 else name).strip(".")


def is_blocked(host: str, domains: Iterable[str]) -> bool:
    name = hostname(host)
    return any(name == domain or name.endswith("." + domain) for domain in domains)


def normalise_domain(text: str) -> str:
    """A domain as an admin or a CSV row writes it -> its lowercase ASCII (IDNA) form."""
    domain = text.strip().lower().strip(".")
    # Some lists write wildcard entries; a block covers subdomains anyway.
    domain = domain.removeprefix("*.")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{text!r} is not a domain name") from None
    labels = domain.split(".")
    if (
        not domain
        or len(domain) > 253
        or any(
            not label or len(label) > 63 or not all(c.isalnum() or c == "-" for c in label)
            for label in labels
        )
    ):
        raise ValueError(f"{text!r} is not a domain name")
    return domain


async def block_domain(session: AsyncSession, text: str, reason: str = "") -> DomainBlock:
    domain = normalise_domain(text)
    block = await session.scalar(select(DomainBlock).where(DomainBlock.domain == domain))
    if block is None:
        block = DomainBlock(domain=domain, reason=reason)
        session.add(block)
    elif reason:
        block.reason = reason
    actors = [
        actor.id
        for actor in await session.scalars(select(RemoteActor))
        if is_blocked(actor.host, [domain])
    ]
    if actors:
        await session.execute(delete(Follow).where(Follow.remote_actor_id.in_(actors)))
    pending = [
        row.id
        for row in await session.execute(
            select(Delivery.id, Delivery.host).where(Delivery.state == DeliveryState.PENDING)
        )
        if is_blocked(row.host, [domain])
    ]
    if pending:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(pending))
            .values(
                state=DeliveryState.REJECTED,
                last_error=f"domain {domain} is blocked",
                locked_until=None,
            )
        )
    await session.flush()
    return block


async def unblock_domain(session: AsyncSession, text: str) -> bool:
    result = await session.execute(
        delete(DomainBlock).where(DomainBlock.domain == normalise_domain(text))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def blocked_domains(session: AsyncSession) -> list[DomainBlock]:
    return list(await session.scalars(select(DomainBlock).order_by(DomainBlock.domain)))


@dataclass(frozen=True)
class ImportReport:
    blocked: list[str]
    skipped: list[str]  # one line per row not imported, with its line number and why


def parse_blocklist_csv(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Mastodon's export (`#domain,#severity,…`), or a plain list of domains -> (domain, comment)
    pairs to block, and the rows that were not usable. Unknown columns are ignored."""
    rows = list(csv.reader(io.StringIO(text)))
    header = [c.strip().lstrip("#").lower() for c in rows[0]] if rows else []
    has_header = "domain" in header
    column = {name: i for i, name in enumerate(header)} if has_header else {"domain": 0}
    wanted: list[tuple[str, str]] = []
    problems: list[str] = []
    for number, row in enumerate(rows[1:] if has_header else rows, start=2 if has_header else 1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue  # blank lines and comments
        cell = {name: row[i].strip() if i < len(row) else "" for name, i in column.items()}
        severity = cell.get("severity", "suspend").lower() or "suspend"
        if severity != "suspend":
            problems.append(
                f"line {number}: {cell['domain'] or '?'}: "
                f"severity {severity!r} is not a block; skipped"
            )
            continue
        try:
            wanted.append((normalise_domain(cell["domain"]), cell.get("public_comment", "")))
        except ValueError as e:
            problems.append(f"line {number}: {e}")
    return wanted, problems


async def import_blocklist(session: AsyncSession, text: str) -> ImportReport:
    wanted, problems = parse_blocklist_csv(text)
    for domain, comment in wanted:
        await block_domain(session, domain, comment)
    return ImportReport([domain for domain, _ in wanted], problems)


def export_blocklist(blocks: Iterable[DomainBlock]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for block in blocks:
        writer.writerow([block.domain, "suspend", "true", "true", block.reason, "false"])
    return out.getvalue()


class Mode:
    OPEN = "open"
    ALLOWLIST = "allowlist"


async def set_mode(session: AsyncSession, mode: str) -> None:
    if mode not in (Mode.OPEN, Mode.ALLOWLIST):
        raise ValueError(
            f"federation mode must be {Mode.OPEN!r} or {Mode.ALLOWLIST!r}, not {mode!r}"
        )
    await session.execute(update(Instance).values(federation_mode=mode))


async def allow_domain(session: AsyncSession, text: str) -> DomainAllow:
    domain = normalise_domain(text)
    allow = await session.scalar(select(DomainAllow).where(DomainAllow.domain == domain))
    if allow is None:
        allow = DomainAllow(domain=domain)
        session.add(allow)
        await session.flush()
    return allow


async def disallow_domain(session: AsyncSession, text: str) -> bool:
    result = await session.execute(
        delete(DomainAllow).where(DomainAllow.domain == normalise_domain(text))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Rules:
    """What the instance refuses: blocked domains always; in allowlist mode, everything not
    allowed."""

    blocked: frozenset[str] = frozenset()
    allowed: frozenset[str] | None = None  # None: open federation

    def refuses(self, host: str) -> bool:
        if is_blocked(host, self.blocked):
            return True
        return self.allowed is not None and not is_blocked(host, self.allowed)


async def load_rules(session: AsyncSession) -> Rules:
    mode = await session.scalar(select(Instance.federation_mode)) or Mode.OPEN
    blocked = frozenset(await session.scalars(select(DomainBlock.domain)))
    allowed = (
        frozenset(await session.scalars(select(DomainAllow.domain)))
        if mode == Mode.ALLOWLIST
        else None
    )
    return Rules(blocked, allowed)


class Blocklist:
    """The instance's rules, kept in memory for a few seconds: the inbox asks on every request."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl: float = 2.0) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._rules = Rules()
        self._loaded_at = -ttl

    async def rules(self) -> Rules:
        if time.monotonic() - self._loaded_at >= self._ttl:
            async with self._sessions() as session:
                self._rules = await load_rules(session)
            self._loaded_at = time.monotonic()
        return self._rules

    async def blocks(self, *hosts: str | None) -> bool:
        """Whether any of these hosts is refused: blocked, or not allowed in allowlist mode."""
        rules = await self.rules()
        return any(rules.refuses(host) for host in hosts if host)

    def forget(self) -> None:
        self._loaded_at = -self._ttl
