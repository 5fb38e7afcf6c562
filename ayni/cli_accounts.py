"""`ayni member export|delete`: a member's own data, and leaving for good."""

import argparse
import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ayni.commands import find_member, transaction
from models import accounts
from models.runtime import Runtime


def register_member(member: Any) -> None:
    export = member.add_parser(
        "export", help="print everything the instance holds about a member, as JSON"
    )
    export.add_argument("username")
    export.set_defaults(run=cmd_member_export)
    delete = member.add_parser(
        "delete",
        help="delete a member's account (no prompt: the command is the confirmation); her "
        "items go with federated Deletes, as-group ones stay with the group, her handle is "
        "never reused",
    )
    delete.add_argument("username")
    delete.set_defaults(run=cmd_member_delete)


@transaction
async def cmd_member_export(
    args: argparse.Namespace, runtime: Runtime, session: AsyncSession
) -> str:
    member = await find_member(session, args.username)
    found = await accounts.export(session, runtime.uris, member, runtime.seal)
    return json.dumps(found, indent=2, ensure_ascii=False)


@transaction
async def cmd_member_delete(
    args: argparse.Namespace, runtime: Runtime, session: AsyncSession
) -> str:
    member = await find_member(session, args.username)
    done = await accounts.delete_account(session, runtime.uris, member)
    return (
        f"Deleted the account @{done.username}: {done.items_deleted} item(s) of hers deleted "
        f"(other servers are asked to delete them too), {done.items_kept} posted as the group "
        "kept by the group. The handle is retired."
    )
