"""The vocabulary of items: the JSON-LD context, kinds, states, and ValueFlows actions.

Mastodon does not fetch contexts, so every term we use beyond AS2 is defined inline. FEP-0837
(ValueFlows) supplies `purpose`, `publishes`/`Intent`, quantities, `hasEnd` and `finished`; the
event terms (FEP-8a8e as Mobilizon and Gancio use them) come from Mobilizon's and schema.org's
namespaces. Who may boost, reply to or quote an item is GoToSocial's `interactionPolicy`
(`federation.interaction_policy`), whose terms Mastodon 4.5 defines inline the same way.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from federation.interaction_policy import POLICY_TERMS
from federation.vocab import AS_CONTEXT

__all__ = [
    "CALL_ACTION",
    "CLOSED",
    "DEFAULT_ACTION",
    "ITEM_CONTEXT",
    "STATUSES",
    "Category",
    "Kind",
    "Status",
    "action_for",
]

ITEM_CONTEXT: list[Any] = [
    AS_CONTEXT,
    {
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "vf": "https://w3id.org/valueflows/ont/vf#",
        "om2": "http://www.ontology-of-units-of-measure.org/resource/om-2/",
        "sc": "http://schema.org/",
        "mz": "https://joinmobilizon.org/ns#",
        "Hashtag": "as:Hashtag",
        "Intent": "vf:Intent",
        "purpose": "vf:purpose",
        "publishes": "vf:publishes",
        "action": "vf:action",
        "resourceConformsTo": {"@id": "vf:resourceConformsTo", "@type": "@id"},
        "resourceQuantity": "vf:resourceQuantity",
        "availableQuantity": "vf:availableQuantity",
        "hasUnit": "om2:hasUnit",
        "hasNumericalValue": "om2:hasNumericalValue",
        "hasEnd": {"@id": "vf:hasEnd", "@type": "xsd:dateTime"},
        "finished": {"@id": "vf:finished", "@type": "xsd:boolean"},
        "timezone": {"@id": "mz:timezone", "@type": "sc:Text"},
        "eventStatus": "sc:eventStatus",
        "participantCount": {"@id": "mz:participantCount", "@type": "sc:Integer"},
        "attendees": {"@id": "https://w3id.org/fep/8a8e#attendees", "@type": "@id"},
        "peopleNeeded": {"@id": "https://w3id.org/fep/8a8e#peopleNeeded", "@type": "xsd:integer"},
        **POLICY_TERMS,
    },
]


class Kind(StrEnum):
    ASK = "ask"
    OFFER = "offer"
    CALL = "call"


class Status(StrEnum):
    OPEN = "open"
    FULFILLED = "fulfilled"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    SCHEDULED = "scheduled"
    DONE = "done"
    CANCELLED = "cancelled"


CLOSED = frozenset(
    {
        Status.FULFILLED,
        Status.WITHDRAWN,
        Status.EXPIRED,
        Status.DONE,
        Status.CANCELLED,
    }
)
STATUSES = {
    Kind.ASK: frozenset({Status.OPEN, Status.FULFILLED, Status.WITHDRAWN, Status.EXPIRED}),
    Kind.OFFER: frozenset({Status.OPEN, Status.FULFILLED, Status.WITHDRAWN, Status.EXPIRED}),
    Kind.CALL: frozenset({Status.SCHEDULED, Status.DONE, Status.CANCELLED}),
}
# ValueFlows actions: things change hands ("transfer"), a place is used for a while ("use"),
# someone does something for someone ("deliverService"); people turning up to a call is "work".
_SERVICE_CATEGORIES = frozenset(
    {
        "transport",
        "childcare",
        "health",
        "skills",
        "care",
        "legal",
    }
)
_ACTION_BY_CATEGORY = {"housing": "use"} | dict.fromkeys(_SERVICE_CATEGORIES, "deliverService")
CALL_ACTION = "work"
DEFAULT_ACTION = "transfer"  # food, goods, money, other, and admin categories without an action


@dataclass(frozen=True, slots=True)
class Category:
    slug: str
    name: str
    uri: str
    action: str | None = None  # overrides the default mapping, for admin-defined categories


def action_for(kind: Kind, category: Category) -> str:
    if kind == Kind.CALL:
        return CALL_ACTION
    return category.action or _ACTION_BY_CATEGORY.get(category.slug, DEFAULT_ACTION)
