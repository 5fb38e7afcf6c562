"""Who may see an activity or an item: the one `Visibility`, stored as its string value.

Activities use every member. Local items are public, followers-only or members-only
(`ITEM_VISIBILITIES`): an item is never addressed to chosen actors, and a members-only one never
reaches the wire. Items read from other servers are public, followers-only or direct.
"""

from enum import StrEnum

__all__ = ["ITEM_VISIBILITIES", "Visibility"]


class Visibility(StrEnum):
    PUBLIC = "public"  # to Public, cc followers
    FOLLOWERS = "followers"  # to followers only
    DIRECT = "direct"  # to the named actors only
    MEMBERS = "members"  # never leaves the instance


# What a local item may be, in the order the item form offers them.
ITEM_VISIBILITIES = (Visibility.PUBLIC, Visibility.FOLLOWERS, Visibility.MEMBERS)
