"""A form action refused with a message for the person who sent it.

The route raises `FormRefused` inside the transaction that would have made the change, so that it
rolls back and nothing of the refused form is kept; it catches it outside and shows the page again
with the problems and status 400. (`federation.errors.Refused` is another thing: a fetch or a
delivery we would not make.)
"""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    message: str  # a message id (N_), translated for the reader when shown
    variables: dict[str, str] = field(default_factory=dict)
    field: str = ""  # the id of the form field it is about, marked and linked; "" for the form


@dataclass(frozen=True)
class Said:
    """A problem as the page shows it: translated, next to its field and linked from the
    summary (`href="#field"`)."""

    text: str
    field: str = ""


def said(problems: list[Problem], translate: Callable[..., str]) -> list[Said]:
    return [Said(translate(p.message, **p.variables), p.field) for p in problems]


def by_field(errors: list[Said]) -> dict[str, str]:
    """The first problem of each field, for the message beside it."""
    marked: dict[str, str] = {}
    for error in errors:
        if error.field:
            marked.setdefault(error.field, error.text)
    return marked


class FormRefused(Exception):
    """`field` says which form on a page of several it answers; `value` is what was typed there."""

    def __init__(self, *problems: Problem | str, field: str = "", value: str = "") -> None:
        self.problems = [p if isinstance(p, Problem) else Problem(p) for p in problems]
        super().__init__(*(p.message for p in self.problems))
        self.field, self.value = field, value

    @property
    def message(self) -> str:
        return self.problems[0].message
