"""A Mastodon-shaped peer: a small Starlette app with one Person actor and its own RSA key.

It sends what Mastodon sends (draft-cavage signatures over (request-target) host date digest,
`application/activity+json`, Follow / Undo / Create Note / Delete with Mastodon's shapes) and
checks what it receives the way Mastodon does: the signature must verify against the sender's
key, fetched from the sender's actor document, and the key's owner must be the activity's actor.
Every request it serves is counted, so a test can prove that nothing was fetched from it.
"""

import json
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation import cavage, discovery, keys, signatures, vocab
from federation.errors import FederationError
from federation.keyresolver import KeyResolver
from federation.keys import SigningKey

AS = vocab.AS_CONTEXT


class ActivityJSON(JSONResponse):
    media_type = "application/activity+json"


@dataclass
class MastodonPeer:
    base_url: str
    transport: httpx.AsyncBaseTransport
    username: str = "alice"
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    also_known_as: list[str] = field(default_factory=list)
    gone: bool = False  # the account was deleted: its actor answers 410
    actor_type: str = "Person"  # "Group": a Mobilizon or Friendica group, say

    def __post_init__(self) -> None:
        self.private_key = keys.generate_private_key()
        self.http = httpx.AsyncClient(transport=self.transport)
        self.key_resolver = KeyResolver(self._fetch)
        self.app = Starlette(
            routes=[
                Route("/users/{name}", self._actor),
                Route("/users/{name}/inbox", self._inbox, methods=["POST"]),
                Route("/inbox", self._inbox, methods=["POST"]),
                Route("/users/{name}/statuses/{id}", self._status),
            ]
        )

    @property
    def actor_uri(self) -> str:
        return f"{self.base_url}/users/{self.username}"

    @property
    def key_id(self) -> str:
        return f"{self.actor_uri}#main-key"

    @property
    def host(self) -> str:
        return self.base_url.split("://", 1)[1]

    def actor_document(self) -> dict[str, Any]:
        return {
            "@context": [AS, vocab.SECURITY_CONTEXT],
            "id": self.actor_uri,
            "type": self.actor_type,
            "preferredUsername": self.username,
            "name": "Alice",
            "inbox": f"{self.actor_uri}/inbox",
            "outbox": f"{self.actor_uri}/outbox",
            "followers": f"{self.actor_uri}/followers",
            "following": f"{self.actor_uri}/following",
            "endpoints": {"sharedInbox": f"{self.base_url}/inbox"},
            "alsoKnownAs": self.also_known_as,
            "publicKey": {
                "id": self.key_id,
                "owner": self.actor_uri,
                "publicKeyPem": keys.public_key_to_pem(self.private_key.public_key()),
            },
        }

    # Serving ---------------------------------------------------------------------------

    async def _actor(self, request: Request) -> Response:
        self.requests.append(("GET", request.url.path))
        if request.path_params["name"] != self.username:
            return Response(status_code=404)
        if self.gone:
            return Response(status_code=410)
        return ActivityJSON(self.actor_document())

    async def _status(self, request: Request) -> Response:
        self.requests.append(("GET", request.url.path))
        found = self.objects.get(f"{self.base_url}{request.url.path}")
        return ActivityJSON(found) if found else Response(status_code=404)

    async def _inbox(self, request: Request) -> Response:
        self.requests.append(("POST", request.url.path))
        body = await request.body()
        try:
            activity = vocab.parse_activity(body)
            key_id = await signatures.verify(
                "POST", str(request.url), request.headers, body, self.key_resolver
            )
            if self.key_resolver.owner_of(key_id) != vocab.id_of(activity.get("actor")):
                raise FederationError("signer and actor do not match")
        except FederationError as error:
            self.refused.append(str(error))
            return Response(status_code=401)
        self.received.append(activity)
        return Response(status_code=202)

    async def _fetch(self, url: str) -> dict[str, Any]:
        response = await self.http.get(url, headers={"Accept": vocab.ACTIVITY_JSON})
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    # Sending ---------------------------------------------------------------------------

    async def resolve(self, handle: str) -> str:
        async def get_json(url: str) -> dict[str, Any]:
            response = await self.http.get(url)
            response.raise_for_status()
            return dict(response.json())

        return await discovery.resolve(handle, get_json, scheme=self.base_url.split("://")[0])

    async def inbox_of(self, actor_uri: str) -> str:
        return str((await self._fetch(actor_uri))["inbox"])

    def signed(self, inbox: str, activity: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(activity).encode()
        headers = cavage.sign_cavage("POST", inbox, SigningKey(self.key_id, self.private_key), body)
        headers["Content-Type"] = vocab.ACTIVITY_JSON
        return body, headers

    async def send(self, inbox: str, activity: dict[str, Any]) -> httpx.Response:
        body, headers = self.signed(inbox, activity)
        return await self.http.post(inbox, content=body, headers=headers)

    async def get_signed(self, url: str, accept: str = vocab.ACTIVITY_JSON) -> httpx.Response:
        """A GET signed as this actor, as Mastodon fetches from a server in authorized-fetch
        mode."""
        headers = cavage.sign_cavage("GET", url, SigningKey(self.key_id, self.private_key))
        return await self.http.get(url, headers={**headers, "Accept": accept})

    def new_id(self, kind: str = "activities") -> str:
        return f"{self.actor_uri}/{kind}/{uuid4().hex}"

    def follow(self, target: str) -> dict[str, Any]:
        return {
            "@context": AS,
            "id": f"{self.base_url}/{uuid4()}",
            "type": "Follow",
            "actor": self.actor_uri,
            "object": target,
        }

    def undo(self, activity: dict[str, Any]) -> dict[str, Any]:
        return {
            "@context": AS,
            "id": f"{self.actor_uri}#follows/{uuid4().hex}/undo",
            "type": "Undo",
            "actor": self.actor_uri,
            "object": activity,
        }

    def note(
        self,
        content: str,
        to: list[str],
        cc: list[str] | None = None,
        in_reply_to: str | None = None,
        mention: str | None = None,
    ) -> dict[str, Any]:
        status = f"{self.actor_uri}/statuses/{uuid4().int % 10**18}"
        note: dict[str, Any] = {
            "id": status,
            "type": "Note",
            "summary": None,
            "inReplyTo": in_reply_to,
            "published": "2026-11-23T10:00:00Z",
            "url": status.replace("/users/", "/@"),
            "attributedTo": self.actor_uri,
            "to": to,
            "cc": cc or [],
            "sensitive": False,
            "content": content,
            "contentMap": {"en": content},
            "tag": [{"type": "Mention", "href": mention, "name": "@group"}] if mention else [],
        }
        self.objects[status] = note
        return {
            "@context": AS,
            "id": f"{status}/activity",
            "type": "Create",
            "actor": self.actor_uri,
            "published": note["published"],
            "to": to,
            "cc": cc or [],
            "object": note,
        }

    def delete(self, note: dict[str, Any]) -> dict[str, Any]:
        self.objects.pop(note["id"], None)
        return {
            "@context": AS,
            "id": f"{note['id']}#delete",
            "type": "Delete",
            "actor": self.actor_uri,
            "to": [vocab.PUBLIC],
            "object": {"id": note["id"], "type": "Tombstone", "atomUri": note["id"]},
        }

    async def aclose(self) -> None:
        await self.http.aclose()


@dataclass
class ForumPeer:
    """A server of several actors at the paths its software uses (Lemmy's `/u/rosa` and
    `/c/tenants`, Mbin's `/u/rosa` and `/m/tenants`, Misskey's `/users/9abc`), each with its own
    key, serving the objects and activities a test gives it at their ids, and WebFinger; it
    signs as any of its actors and keeps what it receives."""

    base_url: str
    transport: httpx.AsyncBaseTransport
    actors: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(transport=self.transport)
        self._keys: dict[str, SigningKey] = {}
        self.app = Starlette(
            routes=[
                Route("/.well-known/webfinger", self._webfinger),
                Route("/inbox", self._inbox, methods=["POST"]),
                Route("/{path:path}", self._document),
            ]
        )

    @property
    def host(self) -> str:
        return self.base_url.split("://", 1)[1]

    def actor(self, path: str, actor_type: str, username: str, **fields: Any) -> str:
        """Add an actor at `path` (e.g. "/c/tenants"); returns its id."""
        uri = f"{self.base_url}{path}"
        private_key = keys.generate_private_key()
        self._keys[uri] = SigningKey(f"{uri}#main-key", private_key)
        self.actors[uri] = {
            "@context": [AS, vocab.SECURITY_CONTEXT],
            "id": uri,
            "type": actor_type,
            "preferredUsername": username,
            "inbox": f"{uri}/inbox",
            "outbox": f"{uri}/outbox",
            "followers": f"{uri}/followers",
            "endpoints": {"sharedInbox": f"{self.base_url}/inbox"},
            "publicKey": {
                "id": f"{uri}#main-key",
                "owner": uri,
                "publicKeyPem": keys.public_key_to_pem(private_key.public_key()),
            },
            **fields,
        }
        return uri

    def serve(self, document: dict[str, Any]) -> dict[str, Any]:
        self.objects[document["id"]] = document
        return document

    async def send(self, signer: str, inbox: str, activity: dict[str, Any]) -> httpx.Response:
        body = json.dumps(activity).encode()
        headers = cavage.sign_cavage("POST", inbox, self._keys[signer], body)
        headers["Content-Type"] = vocab.ACTIVITY_JSON
        return await self.http.post(inbox, content=body, headers=headers)

    async def _document(self, request: Request) -> Response:
        uri = f"{self.base_url}/{request.path_params['path']}"
        if uri.endswith("/inbox") and request.method == "POST":
            return await self._inbox(request)
        found = self.actors.get(uri) or self.objects.get(uri)
        if found is None:
            return Response(status_code=404)
        if found.get("type") == "Tombstone":
            return ActivityJSON(found, status_code=410)
        return ActivityJSON(found)

    async def _webfinger(self, request: Request) -> Response:
        name = request.query_params.get("resource", "").removeprefix("acct:").split("@")[0]
        found = next(
            (uri for uri, doc in self.actors.items() if doc["preferredUsername"] == name), None
        )
        if found is None:
            return Response(status_code=404)
        return JSONResponse(
            {
                "subject": f"acct:{name}@{self.host}",
                "links": [{"rel": "self", "type": vocab.ACTIVITY_JSON, "href": found}],
            }
        )

    async def _inbox(self, request: Request) -> Response:
        self.received.append(vocab.parse_activity(await request.body()))
        return Response(status_code=202)

    async def aclose(self) -> None:
        await self.http.aclose()
