"""What the templates may print unescaped.

Jinja's newstyle gettext marks its result safe and then %-formats it, so `_()` and `ngettext()`
take only string literals (the catalogue's message ids); the values they fill in are escaped.
A runtime value that may have a translation (a label, a default category name, an error) goes
through `tr()`, which returns plain text for autoescape to escape. Nothing is marked safe by
hand: remote and Markdown HTML go through the `sanitized` filter.
"""

import jinja2
import pytest
from jinja2 import nodes
from starlette.requests import Request

from ayni.web import environment

# How many leading arguments of each gettext function are message ids.
MESSAGE_IDS = {"_": 1, "gettext": 1, "ngettext": 2, "pgettext": 2, "npgettext": 3}


def problems(env: jinja2.Environment, source: str) -> list[str]:
    tree = env.parse(source)
    found = []
    for call in tree.find_all(nodes.Call):
        name = call.node.name if isinstance(call.node, nodes.Name) else None
        if name in MESSAGE_IDS:
            ids = call.args[: MESSAGE_IDS[name]]
            literal = all(isinstance(a, nodes.Const) and isinstance(a.value, str) for a in ids)
            if len(ids) < MESSAGE_IDS[name] or not literal or call.dyn_args is not None:
                found.append(f"line {call.lineno}: {name}() of a runtime value")
    for applied in tree.find_all(nodes.Filter):
        if applied.name == "safe":
            found.append(f"line {applied.lineno}: | safe")
    for modifier in tree.find_all(nodes.EvalContextModifier):
        found.append(f"line {modifier.lineno}: autoescape changed")
    return found


def page(env: jinja2.Environment, source: str, language: str = "en", **values: object) -> str:
    request = Request({"type": "http", "headers": [(b"accept-language", language.encode())]})
    return env.from_string(source).render(request=request, **values)


TEMPLATES = environment().list_templates(extensions=["html"])


def test_every_template_is_checked() -> None:
    assert len(TEMPLATES) > 20 and "item.html" in TEMPLATES


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_translate_only_literals_and_mark_nothing_safe(name: str) -> None:
    env = environment()
    source, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]

    assert problems(env, source) == []


@pytest.mark.parametrize(
    "source",
    [
        "{{ _(name) }}",
        "{{ _(name | replace('%', '%%')) }}",
        "{{ _('%(k)s', k=_(label)) }}",
        "{{ ngettext(one, 'many', n) }}",
        "{{ gettext(*args) }}",
        "{{ html | safe }}",
        "{% autoescape false %}{{ name }}{% endautoescape %}",
    ],
)
def test_the_check_finds_runtime_values_and_hand_marked_html(source: str) -> None:
    assert problems(environment(), source) != []


def test_tr_translates_a_runtime_value_and_leaves_it_to_be_escaped() -> None:
    env = environment()

    assert page(env, "{{ tr(name) }}", "es", name="Food") == "Alimentos"
    assert page(env, "{{ tr(name) }}", name="Food") == "Food"
    hostile = "<script>alert(1)</script> %(x)s 100%"
    assert page(env, "{{ tr(name) }}", "es", name=hostile) == (
        "&lt;script&gt;alert(1)&lt;/script&gt; %(x)s 100%"
    )
    assert page(env, "{{ tr(name) }}", name="") == ""


def test_values_filled_into_a_literal_message_are_escaped() -> None:
    shown = page(
        environment(), "{{ _('Signed in as %(name)s', name=name) }}", "es", name="<b>%(x)s</b>"
    )

    assert shown == "Sesión iniciada como &lt;b&gt;%(x)s&lt;/b&gt;"


def test_sanitized_keeps_allowed_markup_and_drops_the_rest() -> None:
    shown = page(
        environment(),
        "{{ html | sanitized }}",
        html="<p><em>hi</em><img src=x onerror=alert(1)></p>",
    )

    assert shown == "<p><em>hi</em></p>"
