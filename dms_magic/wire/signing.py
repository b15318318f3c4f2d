"""ACS3-HMAC-SHA256 request signing, as small pure functions.

The same functions serve both sides: the client signs with ``sign_headers``; the sandbox verifies by
rebuilding ``canonical_request`` from what arrived (using the SignedHeaders list it was sent, see
``parse_authorization``) and comparing ``signature``.

The oracle is Alibaba Cloud's own ``alibabacloud_tea_openapi`` (``Utils.get_authorization``): for the
same method, path, query, headers and payload hash we produce the same Authorization header, and
tests/test_signing.py checks that over hundreds of random cases. Where the SDK departs from the
written spec we follow the SDK, because the SDK is what the gateway demonstrably accepts:

* the canonical URI is the path as given (the SDK does not percent-encode it; ours is always ``/``);
* query values are percent-encoded with only ``~`` (and unreserved ASCII) left as is, so ``/``,
  ``*``, space and every non-ASCII byte are encoded (``%2F``, ``%2A``, ``%20``, UTF-8 bytes);
* header names are lower-cased, values stripped; repeated names are joined with ``,`` sorted;
* every header sent is signed (host, x-acs-*, content-type, user-agent, accept, ...).

Secrets only ever enter ``signature``/``authorization``/``sign_headers`` as arguments: nothing here
logs, stores or formats them.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import Iterable, Mapping
from urllib.parse import quote

ALGORITHM = "ACS3-HMAC-SHA256"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
EMPTY_PAYLOAD_HASH = hashlib.sha256(b"").hexdigest()


def _encode(text: str) -> str:
    # RFC 3986 unreserved characters stay; everything else (including "/" and "*") is %XX of UTF-8.
    return quote(text, safe="~", encoding="utf-8")


def canonical_query(query: Mapping[str, str] | str | None) -> str:
    """``k=v`` pairs sorted by key, values percent-encoded, joined by ``&``; None values skipped.

    A string is taken as already canonical: the client computes it once per call and sends it as
    the URL's query too (it is a valid one), instead of encoding the same values on every attempt.
    """
    if isinstance(query, str):
        return query
    if not query:
        return ""
    pairs = sorted((k, v) for k, v in query.items() if v is not None)
    # Keys are the API's ASCII names; encoding them is a no-op for those, and correct per the spec
    # for anything else.
    return "&".join(f"{_encode(str(k))}={_encode(str(v))}" for k, v in pairs)


def canonical_headers(headers: Mapping[str, str], signed: Iterable[str] | None = None) -> tuple[str, str]:
    """(canonical header block, signed-headers list).

    Without ``signed`` every header given is signed (the client's case). With ``signed`` (the
    verifier's case: the list from the Authorization header) exactly those names are used; a
    signed name that did not arrive canonicalises as empty, so the signature simply won't match.
    """
    grouped: dict[str, list[str]] = {}
    for name, value in headers.items():
        if value is None:
            continue
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        grouped.setdefault(name.lower(), []).append(str(value).strip())
    if signed is None:
        names = sorted(grouped)
    else:
        names = sorted({n.strip().lower() for n in signed if n.strip()})
    block = "".join(f"{n}:{','.join(sorted(grouped.get(n, [''])))}\n" for n in names)
    return block, ";".join(names)


def canonical_request(method: str, path: str, query: Mapping[str, str] | str | None, headers: Mapping[str, str],
                      payload_hash: str, signed: Iterable[str] | None = None) -> tuple[str, str]:
    """(canonical request text, signed-headers list)."""
    block, signed_headers = canonical_headers(headers, signed)
    text = f"{method.upper()}\n{path or '/'}\n{canonical_query(query)}\n{block}\n{signed_headers}\n{payload_hash}"
    return text, signed_headers


def string_to_sign(canonical_request_text: str) -> str:
    return f"{ALGORITHM}\n{hashlib.sha256(canonical_request_text.encode('utf-8')).hexdigest()}"


def signature(secret: str, string_to_sign_text: str) -> str:
    """Hex HMAC-SHA256 of the string to sign with the AccessKey secret."""
    return hmac.new(secret.encode("utf-8"), string_to_sign_text.encode("utf-8"), hashlib.sha256).hexdigest()


def hash_payload(body: bytes | bytearray | str | None) -> str:
    """Hex SHA-256 of the request body (the x-acs-content-sha256 header)."""
    if not body:
        return EMPTY_PAYLOAD_HASH
    if isinstance(body, str):
        body = body.encode("utf-8")
    return hashlib.sha256(body).hexdigest()


def authorization(method: str, path: str, query: Mapping[str, str] | str | None, headers: Mapping[str, str],
                  payload_hash: str, access_key_id: str, secret: str) -> str:
    """The Authorization header value, signing every header in ``headers``."""
    text, signed_headers = canonical_request(method, path, query, headers, payload_hash)
    sig = signature(secret, string_to_sign(text))
    return f"{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={sig}"


_AUTH_RE = re.compile(r"^\s*(?P<alg>[A-Za-z0-9-]+)\s+(?P<rest>.+)$")


def parse_authorization(header: str) -> tuple[str, str, list[str], str]:
    """(algorithm, access_key_id, signed header names, signature) from an Authorization value.

    Raises ValueError naming what is missing (the sandbox maps that to IncompleteSignature).
    """
    if not header or not isinstance(header, str):
        raise ValueError("the Authorization header is missing")
    match = _AUTH_RE.match(header)
    if not match:
        raise ValueError("the Authorization header is not '<algorithm> Credential=...,SignedHeaders=...,Signature=...'")
    fields: dict[str, str] = {}
    for part in match.group("rest").split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    if missing:
        raise ValueError(f"the Authorization header lacks {', '.join(missing)}")
    signed = [n for n in fields["SignedHeaders"].split(";") if n]
    return match.group("alg"), fields["Credential"], signed, fields["Signature"]


def new_nonce() -> str:
    """A fresh x-acs-signature-nonce (32 hex chars; a new one for every attempt, retries included)."""
    return secrets.token_hex(16)


def timestamp(now: float | None = None) -> str:
    """x-acs-date: ISO 8601 UTC, second precision, as the SDK sends it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))


def sign_headers(method: str, path: str, query: Mapping[str, str] | str | None, body: bytes | None, host: str,
                 action: str, version: str, access_key_id: str, secret: str, security_token: str | None = None,
                 *, date: str | None = None, nonce: str | None = None,
                 content_type: str | None = FORM_CONTENT_TYPE, accept: str | None = "application/json",
                 user_agent: str | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every header one request needs, Authorization included, the way the official SDK builds them.

    ``content_type`` is dropped when there is no body (the SDK sets it only with a body). With an STS
    ``security_token`` the SDK also sends (and signs) ``x-acs-accesskey-id``; so do we.
    """
    payload_hash = hash_payload(body)
    headers: dict[str, str] = {
        "host": host,
        "x-acs-version": version,
        "x-acs-action": action,
        "x-acs-date": date or timestamp(),
        "x-acs-signature-nonce": nonce or new_nonce(),
    }
    if user_agent:
        headers["user-agent"] = user_agent
    if accept:
        headers["accept"] = accept
    if extra:
        headers.update(extra)
    if body and content_type:
        headers["content-type"] = content_type
    headers["x-acs-content-sha256"] = payload_hash
    if security_token:
        headers["x-acs-accesskey-id"] = access_key_id
        headers["x-acs-security-token"] = security_token
    headers["Authorization"] = authorization(method, path, query, headers, payload_hash, access_key_id, secret)
    return headers
