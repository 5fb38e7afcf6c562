"""What the page tests share: a small HTML reader (h1s, landmarks, labelled controls, the CSRF
token, links) and signing in the way a browser does."""

import re
from html.parser import HTMLParser

import httpx

from models import actors, passwords
from tests.instances import Instance

PASSWORD = "correct horse battery staple"
GENERIC_ERROR = "That username and password do not match."


class Page(HTMLParser):
    """What the tests look at in a page: h1s, landmarks, form controls, labels, the CSRF token."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.h1 = 0
        self.landmarks: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self._label_depth = 0
        self.csrf: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "h1":
            self.h1 += 1
        if tag in {"header", "nav", "main", "footer"}:
            self.landmarks.add(tag)
        if tag == "label":
            self._label_depth += 1
            if attributes.get("for"):
                self.label_for.add(str(attributes["for"]))
        if tag in {"input", "select", "textarea"}:
            if attributes.get("name") == "csrf_token":
                self.csrf = attributes.get("value")
            if attributes.get("type") not in {"hidden", "submit"}:
                self.controls.append(
                    {**attributes, "wrapped": "yes" if self._label_depth else None}
                )

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth -= 1

    def unlabelled(self) -> list[dict[str, str | None]]:
        return [
            control
            for control in self.controls
            if not control["wrapped"]
            and control.get("id") not in self.label_for
            and not control.get("aria-label")
        ]


async def set_password(instance: Instance, username: str = "ana", password: str = PASSWORD) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        member = await actors.find_actor(session, username)
        assert member is not None
        member.password_hash = passwords.hash_password(password)


async def csrf(http: httpx.AsyncClient, path: str = "/login") -> str:
    """The CSRF token of the session, read from a page's form, as a browser would submit it."""
    token = Page((await http.get(path)).text).csrf
    assert token, f"no CSRF token on {path}"
    return token


async def sign_in(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    form = Page((await http.get("/login")).text)
    assert form.csrf
    return await http.post(
        "/login", data={"csrf_token": form.csrf, "username": username, "password": password}
    )


async def signed_in_as(http: httpx.AsyncClient) -> str | None:
    found = re.search(r"Signed in as (\w+)", (await http.get("/")).text)
    return found.group(1) if found else None
