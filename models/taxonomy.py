"""The shared taxonomy: what an item's category means across instances.

Every instance publishes the default categories as one SKOS concept scheme at /taxonomy.
Each of its concepts is an exact match of a shared concept, named by `canonical(slug)`,
so that "food" on one instance is "food" on every other. A group's own category names
the default concept it narrows (`Category.broader`). A remote item's category is mapped
to a shared concept through its `broader` chain and kept in `RemoteItem.concept`.
"""

from models.items import DEFAULT_CATEGORIES, Category

# An identifier, not an address that is fetched: the same on every instance.
SHARED = "https://w3id.org/ayni/taxonomy"
DEFAULTS = frozenset(slug for slug, _ in DEFAULT_CATEGORIES)


def canonical(slug: str) -> str:
    """The shared concept of a default category."""
    return f"{SHARED}#{slug}"


def concept_of(category: Category) -> str | None:
    """The shared concept a local category is, or narrows; None for a group's own category
    that names no default concept."""
    if category.broader is not None:
        return canonical(category.broader)
    if category.slug in DEFAULTS:
        return canonical(category.slug)
    return None


def is_general(category: Category) -> bool:
    """A default category itself (not a group's narrower one): it is met by items of its
    concept or of any concept narrower than it."""
    return category.broader is None and category.slug in DEFAULTS
