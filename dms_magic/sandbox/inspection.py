"""``/_sandbox/received`` over HTTP: the journal for out-of-process readers, signed like the API.

The journal holds prompts as they arrived, before masking, so reading it needs what sending a
request needs: an ACS3-HMAC-SHA256 signature by one of the sandbox's key pairs (same headers, same
verifier, fresh nonce and date). An in-process user reads ``Sandbox.received`` instead and needs
nothing. ``GET`` returns one page (``after=<seq>``, ``limit=<n>``: see ``Journal.page``); ``DELETE``
clears the journal.

``received(url, access_key_id, access_key_secret, ...)`` is the reader for tests and tools: it
signs the request with the shared ``signing`` code.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from ..wire import signing
from ..errors import SandboxAuthFailure
from .auth import Verifier
from .journal import MAX_PAGE_ENTRIES, PAGE_ENTRIES, Journal
from .replies import gateway_error, json_response

RECEIVED_PATH = "/_sandbox/received"
ACTION = "DescribeSandboxReceived"  # what the reader puts in x-acs-action (signed, not routed on)
VERSION = "2018-11-01"


def serve(request: Any, verifier: Verifier, journal: Journal):
    """The werkzeug Response for a request to RECEIVED_PATH."""
    if request.method not in ("GET", "DELETE"):
        return gateway_error("NotFound", f"{request.method} {RECEIVED_PATH} is not served: GET reads the journal, "
                             "DELETE clears it.")
    query = {key: value for key, value in request.args.items()}
    try:
        # the body (none is expected) is read only once the headers are signed by a known key
        verifier.verify_then_read(request.method, request.path, query, dict(request.headers), request.get_data)
    except SandboxAuthFailure as failure:
        return gateway_error(failure.code, failure.message)
    if request.method == "DELETE":
        journal.clear()
        return json_response({"cleared": True})
    try:
        after = int(query.get("after", "0"))
        limit = int(query.get("limit", str(PAGE_ENTRIES)))
        if after < 0 or not 1 <= limit <= MAX_PAGE_ENTRIES:
            raise ValueError
    except ValueError:
        return gateway_error("InvalidParameter", f"after must be an integer >= 0 and limit one in [1, "
                             f"{MAX_PAGE_ENTRIES}] (got after={query.get('after')!r}, limit={query.get('limit')!r}).")
    return json_response(journal.page(after=after, limit=limit))


def signed_headers(method: str, url_host: str, query: Mapping[str, str], access_key_id: str,
                   access_key_secret: str, security_token: str | None = None) -> dict[str, str]:
    return signing.sign_headers(method, RECEIVED_PATH, query, b"", url_host, ACTION, VERSION, access_key_id,
                                access_key_secret, security_token)


def received(url: str, access_key_id: str, access_key_secret: str, *, after: int = 0, limit: int = PAGE_ENTRIES,
             security_token: str | None = None, clear: bool = False, timeout: float = 30) -> dict[str, Any]:
    """One page of a sandbox's journal (``{"entries", "next_after", "accepted"}``), or with
    ``clear=True`` clear it. ``url`` is the sandbox's base URL (``Sandbox.url``)."""
    from urllib.parse import urlencode, urlsplit
    from urllib.request import Request, urlopen

    method = "DELETE" if clear else "GET"
    query = {} if clear else {"after": str(after), "limit": str(limit)}
    host = urlsplit(url).netloc
    headers = signed_headers(method, host, query, access_key_id, access_key_secret, security_token)
    target = url.rstrip("/") + RECEIVED_PATH + (f"?{urlencode(query)}" if query else "")
    with urlopen(Request(target, method=method, headers=headers), timeout=timeout) as reply:  # noqa: S310 - our URL
        return json.loads(reply.read())


def received_all(url: str, access_key_id: str, access_key_secret: str, **kw: Any) -> list[dict[str, Any]]:
    """Every kept entry, page after page."""
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        page = received(url, access_key_id, access_key_secret, after=after, **kw)
        out.extend(page["entries"])
        if page["next_after"] is None:
            return out
        after = page["next_after"]
