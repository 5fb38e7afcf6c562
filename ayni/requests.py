"""What signature checks need of an incoming request."""

from starlette.requests import Request

from ayni.runtime import Runtime


def url_as_received(runtime: Runtime, request: Request) -> str:
    """Our public origin (we may sit behind a proxy) + the path and query exactly as sent:
    what the sender signed as `(request-target)` / `@target-uri`."""
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    query = request.scope.get("query_string") or b""
    url = runtime.settings.base_url + raw_path.decode("latin-1")
    return f"{url}?{query.decode('latin-1')}" if query else url
