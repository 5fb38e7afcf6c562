"""`ayni federation ally`, `ayni group set --area` and `ayni ask --overflow`, run as an admin
would run them: changes printed in one line, mistakes refused in one line, nothing half done."""

import subprocess

from sqlalchemy import select

from models import actors, db
from models.items import Item
from models.queue import Activity
from tests.integration.test_cli import cli_env, free_port, init, run

__all__ = ["cli_env"]


def one_line_error(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 1
    stderr = result.stderr
    assert stderr.count("\n") == 1 and stderr.startswith("ayni: error:") and needle in stderr, (
        stderr
    )


async def test_ally_refuses_unknown_groups_and_handles_in_one_line(
    cli_env: dict[str, str], database_url: str
) -> None:
    assert init(cli_env, database_url).returncode == 0
    assert run(["group", "create", "food", "--title", "Food Share"], cli_env).returncode == 0

    one_line_error(run(["federation", "ally", "nope", "@food@elsewhere.example"], cli_env), "nope")
    one_line_error(run(["federation", "ally", "food", "not-a-handle"], cli_env), "not a handle")
    unreachable = f"@food@127.0.0.1:{free_port()}"
    one_line_error(run(["federation", "ally", "food", unreachable, "--off"], cli_env), "")


async def test_group_area_is_set_shown_and_removed(
    cli_env: dict[str, str], database_url: str
) -> None:
    assert init(cli_env, database_url).returncode == 0
    assert run(["group", "create", "food", "--title", "Food Share"], cli_env).returncode == 0

    set_ = run(["group", "set", "food", "--area", "40.4168,-3.7038", "--radius", "12"], cli_env)
    assert set_.returncode == 0, set_.stderr
    assert "area 40.415,-3.7 within 12 km" in set_.stdout
    one_line_error(run(["group", "set", "food", "--area", "north"], cli_env), "LAT,LON")
    one_line_error(run(["group", "set", "food", "--radius", "3"], cli_env), "--area")
    cleared = run(["group", "set", "food", "--area", ""], cli_env)
    assert cleared.returncode == 0 and "area" not in cleared.stdout
    assert run(["group", "set", "food", "--retention-days", "30"], cli_env).returncode == 0

    # Each change of area, and only those, tells the group's followers (Update of the Group)
    engine = db.create_engine(database_url)
    try:
        async with db.sessionmaker(engine)() as session:
            updates = list(
                await session.scalars(
                    select(Activity).where(Activity.type == "Update").order_by(Activity.id)
                )
            )
    finally:
        await engine.dispose()
    sent = [update.document["object"] for update in updates]
    assert [document["type"] for document in sent] == ["Group", "Group"]
    assert sent[0]["location"]["latitude"] == 40.415 and "location" not in sent[1]
    assert all(update.audience["followers"] for update in updates)


async def test_ask_overflow_options_are_stored_and_checked(
    cli_env: dict[str, str], database_url: str
) -> None:
    assert init(cli_env, database_url).returncode == 0
    assert run(["group", "create", "food", "--title", "Food Share"], cli_env).returncode == 0

    posted = run(
        ["ask", "food", "--title", "A fridge", "--overflow", "--after", "2h", "--hops", "2"],
        cli_env,
    )
    at_once = run(["offer", "food", "--title", "Bread", "--overflow", "--after", "0"], cli_env)
    assert posted.returncode == 0 and at_once.returncode == 0, posted.stderr + at_once.stderr
    one_line_error(
        run(["ask", "food", "--title", "X", "--overflow", "--visibility", "followers"], cli_env),
        "only public items overflow",
    )
    one_line_error(run(["ask", "food", "--title", "X", "--after", "2h"], cli_env), "--overflow")
    one_line_error(
        run(["ask", "food", "--title", "X", "--overflow", "--after", "soon"], cli_env), "--after"
    )
    helped = run(["ask", "--help"], cli_env).stdout
    assert "--overflow" in helped and "public" in helped

    engine = db.create_engine(database_url)
    try:
        async with db.sessionmaker(engine)() as session:
            group = await actors.find_actor(session, "food")
            assert group is not None
            rows = list(await session.scalars(select(Item).order_by(Item.id)))
    finally:
        await engine.dispose()
    assert [(r.title, r.overflow_hops) for r in rows] == [("A fridge", 2), ("Bread", 1)]
    assert rows[0].overflow_at is not None and rows[1].overflow_at is not None
    assert round((rows[0].overflow_at - rows[0].created_at).total_seconds()) == 7200
    assert rows[1].overflow_at == rows[1].created_at
