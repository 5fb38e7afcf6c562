"""The post form's overflow checkbox: off unless ticked, a day's wait and one hop when ticked,
refused for items that are not public."""

from datetime import timedelta

from sqlalchemy import select

from models.items import Item
from tests.instances import Instance
from tests.integration.test_web_posting import ask, post, signed_in_ana


async def items(instance: Instance) -> list[Item]:
    async with instance.runtime.sessions() as session:
        return list(await session.scalars(select(Item).order_by(Item.id)))


async def test_the_overflow_checkbox_is_off_by_default_and_waits_a_day_when_ticked(
    instance: Instance,
) -> None:
    http = await signed_in_ana(instance)
    form = (await http.get("/post")).text

    plain = await post(http, ask(title="Plain"))
    ticked = await post(http, ask(title="Ticked", overflow="yes"))

    assert 'name="overflow"' in form and 'id="overflow" name="overflow" value="yes" ' in form
    assert plain.status_code == 303 and ticked.status_code == 303
    first, second = await items(instance)
    assert first.overflow_at is None
    assert second.overflow_at is not None and second.overflow_hops == 1
    assert second.overflow_at - second.created_at == timedelta(hours=24)


async def test_a_followers_only_item_cannot_overflow(instance: Instance) -> None:
    http = await signed_in_ana(instance)

    response = await post(http, ask(visibility="followers", overflow="yes"))

    assert response.status_code == 400
    assert "Only public items go to allied groups." in response.text
    assert await items(instance) == []
