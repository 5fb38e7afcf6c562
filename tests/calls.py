"""The solidarity call the call tests post: as the group `food`, by `ana`, sealed meeting point."""

from datetime import UTC, datetime, timedelta
from typing import Any

from federation.itemterms import Kind
from federation.places import Place
from models import actors, posting
from models.items import Item
from models.posting import Draft
from tests.instances import Instance

SECRET = "the back door of number 14"
STARTS = datetime(2030, 12, 5, 9, 0, tzinfo=UTC)


async def post_call(instance: Instance, **changes: Any) -> Item:
    draft = Draft(
        Kind.CALL,
        "Stop the eviction on Calle Mayor",
        "Bring a thermos.",
        "housing",
        as_group=True,
        starts_at=STARTS,
        ends_at=STARTS + timedelta(hours=3),
        people_wanted=20,
        place=Place("Lavapiés"),
        meeting_point=SECRET,
        **changes,
    )
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        return await posting.create_item(
            session,
            instance.runtime.uris,
            group,
            ana,
            draft,
            confirm=True,
            seal=instance.runtime.seal,
        )
