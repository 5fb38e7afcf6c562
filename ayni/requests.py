"""What signature checks need of an incoming request: the URL it was signed for, who signed a GET,
and whether authorized fetch lets it through."""

import re

from starlette.requests import Request
from starlette.responses import Response

from federation import vocab
from federation.errors import FederationError
from federation.signatures import verify
from models.runtime import Runtime

_UNCHECKED = object()
UNSIGNED = 401  # require_signer's answer to a GET with no valid signature
_KEY_ID = re.compile(r'keyid\s*=\s*"([^"]{1,2048})"', re.IGNORECASE)


def url_as_received(runtime: Runtime, request: Request) -> str:
    """Our public origin (we may sit behind a proxy) + the path and query exactly as sent:
    what the sender signed as `(request-target)` / `@target-uri`."""
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    query = request.scope.get("query_string") or b""
    url = runtime.settings.base_url + raw_path.decode("latin-1")
    return f"{url}?{query.decode('latin-1')}" if query else url


def claimed_key_id(request: Request) -> str | None:
    """The keyId a signature names, before anything is verified or fetched."""
    for name in ("signature-input", "signature"):
        found = _KEY_ID.search(request.headers.get(name, "")[:8192])
        if found:
            return found.group(1)
    return None


async def verified_signer(request: Request) -> str | None:
    """The actor URI whose signature on this GET verifies, or None (unsigned, or not verifiable).
    Checked once per request: a route may ask again (authorized fetch, then visibility)."""
    cached = getattr(request.state, "verified_signer", _UNCHECKED)
    if cached is not _UNCHECKED:
        return cached  # type: ignore[return-value]
    signer = None
    if "signature" in request.headers or "signature-input" in request.headers:
        runtime: Runtime = request.app.state.runtime
        try:
            key_id = await verify(
                "GET",
                url_as_received(runtime, request),
                dict(request.headers),
                b"",
                runtime.key_resolver,
            )
            signer = runtime.key_resolver.owner_of(key_id)
        except (FederationError, KeyError):
            signer = None
    request.state.verified_signer = signer
    return signer


async def signer_of(request: Request) -> str | None:
    """The signer of this GET, or None if unsigned, unverifiable, or from a server we refuse:
    a blocked server, or one not on the allowlist, sees only what is public."""
    signer = await verified_signer(request)
    if signer is None:
        return None
    runtime: Runtime = request.app.state.runtime
    return None if await runtime.blocklist.blocks(vocab.host_of(signer)) else signer


async def require_signer(request: Request, refused_status: int = 403) -> str | None | Response:
    """Authorized fetch, in one place. When `AYNI_AUTHORIZED_FETCH` is on: the signer, or the
    response to send instead: 401 if the GET is unsigned or its signature does not verify,
    `refused_status` if the signer's server is blocked or not allowed (objects pass 404, so that
    a refused server cannot tell which ids exist). When off, nothing is refused: the signer or
    None."""
    runtime: Runtime = request.app.state.runtime
    if not runtime.settings.authorized_fetch:
        return await signer_of(request)
    # The key's server is checked first: nothing is ever fetched from a refused server.
    refused = await runtime.blocklist.blocks(vocab.host_of(claimed_key_id(request)))
    signer = None if refused else await verified_signer(request)
    if refused or (signer is not None and await runtime.blocklist.blocks(vocab.host_of(signer))):
        return Response(
            "Not found" if refused_status == 404 else "Forbidden", status_code=refused_status
        )
    if signer is None:
        return Response(
            "A valid HTTP signature is required",
            status_code=UNSIGNED,
            headers={
                "WWW-Authenticate": 'Signature headers="(request-target) host date"',
                "Vary": "Signature",
            },
        )
    return signer
