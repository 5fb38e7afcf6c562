"""Peers that are not Mastodon: the Mastodon-shaped peer with the actor and object paths of
another server (Lemmy's `/u/name`, Mobilizon's `/@name`, Gancio's `/federation/u/name`), serving
any object it holds by its id. What each sends is built in the tests, after that server's code.
"""

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.peers import ActivityJSON, MastodonPeer


@dataclass
class ShapedPeer(MastodonPeer):
    actor_path: str = "/users"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.app.router.routes[:0] = [
            Route(f"{self.actor_path}/{{name}}", self._actor),
            Route(f"{self.actor_path}/{{name}}/inbox", self._inbox, methods=["POST"]),
        ]
        self.app.router.routes.append(Route("/{path:path}", self._object))

    @property
    def actor_uri(self) -> str:
        return f"{self.base_url}{self.actor_path}/{self.username}"

    async def _object(self, request: Request) -> Response:
        self.requests.append(("GET", request.url.path))
        found = self.objects.get(f"{self.base_url}{request.url.path}")
        return ActivityJSON(found) if found else Response(status_code=404)

    def hold(self, document: dict[str, Any]) -> dict[str, Any]:
        """Serve the document at its id, as its server would."""
        self.objects[document["id"]] = document
        return document


def shaped(actor_path: str) -> type[ShapedPeer]:
    """A peer class whose actors live under `actor_path`."""

    @dataclass
    class Shaped(ShapedPeer):
        def __post_init__(self) -> None:
            self.actor_path = actor_path
            super().__post_init__()

    return Shaped
