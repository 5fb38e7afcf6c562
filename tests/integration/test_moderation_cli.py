"""`ayni moderation …` and `ayni relay …`, run as a moderator would run them."""

from sqlalchemy import select

from models import actors, db
from models.content import RemoteObject, RemoteObjectKind
from models.queue import Activity
from models.remote import RemoteActor
from tests.integration.test_cli import cli_env, init, run

__all__ = ["cli_env"]

SUBMITTER = "https://social.example/users/alice"
NOTE = "https://social.example/users/alice/statuses/1"


async def hold_submission(database_url: str) -> int:
    """What the inbox stores for a public post mentioning the group."""
    engine = db.create_engine(database_url)
    try:
        async with db.sessionmaker(engine)() as session, session.begin():
            group = await actors.find_actor(session, "food")
            assert group is not None
            alice = RemoteActor(
                uri=SUBMITTER,
                host="social.example",
                username="alice",
                inbox_uri=f"{SUBMITTER}/inbox",
            )
            session.add(alice)
            await session.flush()
            row = RemoteObject(
                uri=NOTE,
                type="Note",
                kind=RemoteObjectKind.SUBMISSION,
                remote_actor_id=alice.id,
                local_actor_id=group.id,
                content_html="<p>Free bread at 7</p>",
                public=True,
                document={"id": NOTE},
            )
            session.add(row)
            await session.flush()
            return row.id
    finally:
        await engine.dispose()


async def announces(database_url: str) -> list[str | None]:
    engine = db.create_engine(database_url)
    try:
        async with db.sessionmaker(engine)() as session:
            return list(
                await session.scalars(
                    select(Activity.object_uri).where(Activity.type == "Announce")
                )
            )
    finally:
        await engine.dispose()


async def test_a_moderator_lists_approves_and_rejects_submissions_from_the_command_line(
    cli_env: dict[str, str], database_url: str
) -> None:
    assert init(cli_env, database_url, "http://127.0.0.1:8998").returncode == 0
    assert run(["group", "create", "food", "--title", "Food Share"], cli_env).returncode == 0
    held = await hold_submission(database_url)

    listed = run(["moderation", "submissions", "food"], cli_env)
    assert (
        listed.returncode == 0 and f"{held}\t{SUBMITTER}\t{NOTE}\tFree bread at 7" in listed.stdout
    )

    approved = run(["moderation", "approve", "food", str(held)], cli_env)
    assert approved.returncode == 0, approved.stderr
    assert await announces(database_url) == [NOTE]
    assert run(["moderation", "submissions", "food"], cli_env).stdout == ""
    again = run(["moderation", "reject", "food", str(held)], cli_env)
    assert again.returncode == 1 and "decided already" in again.stderr

    for command in (["moderation", "reports", "food"], ["moderation", "follow-requests", "food"]):
        result = run(command, cli_env)
        assert (result.returncode, result.stdout) == (0, ""), result.stderr
    unknown = run(["relay", "food", "https://elsewhere.example/items/0"], cli_env)
    assert unknown.returncode == 1 and "not on the network board" in unknown.stderr
    missing = run(["moderation", "accept", "food", "99"], cli_env)
    assert missing.returncode == 1 and "no follow request 99" in missing.stderr
