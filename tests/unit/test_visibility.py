"""One `Visibility` for activities, local items and remote items, stored as its string value."""

import pytest

from federation.itemterms import Kind
from federation.visibility import ITEM_VISIBILITIES, Visibility
from models.posting import Draft

# What the `activities`, `items` and `remote_items` tables hold: changing one needs a migration.
STORED = {"public", "followers", "direct", "members"}


def test_every_stored_value_reads_back_as_itself() -> None:
    assert {str(v) for v in Visibility} == STORED
    for value in STORED:
        assert Visibility(value) == value


def test_local_items_are_public_followers_only_or_members_only() -> None:
    assert set(ITEM_VISIBILITIES) < set(Visibility)
    assert list(ITEM_VISIBILITIES) == [Visibility.PUBLIC, Visibility.FOLLOWERS, Visibility.MEMBERS]


def test_a_draft_addressed_to_chosen_actors_is_refused() -> None:
    with pytest.raises(ValueError, match="public, followers-only or members-only"):
        Draft(Kind.ASK, "A lift to the clinic", visibility=Visibility.DIRECT)
