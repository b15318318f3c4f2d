"""Argument checks: an endpoint, numbers of seconds, counts, flags and credentials, each refused
with an error that names the argument and what is expected, before any traffic."""
from __future__ import annotations

import re

import math
import numbers
from typing import Any
from urllib.parse import urlsplit

from dms_magic.client.credentials import CredentialError
from dms_magic.defaults import CENTRAL_ENDPOINT, env_endpoint

MAX_SECONDS = 86400.0  # a day: larger timeouts are mistakes (1e308 overflows the socket layer)


def mask_userinfo(endpoint: Any) -> Any:
    """``endpoint`` with any ``user:password@`` replaced by ``***@`` (anything else unchanged): called
    first in the constructor, so that no frame of ours holds the password (``%xmode Verbose`` prints
    frames' arguments); ``parse_endpoint`` then refuses the ``***@`` with a clear error."""
    if not isinstance(endpoint, str):
        return endpoint
    scheme, sep, rest = endpoint.partition("://")
    body = rest if sep else endpoint
    authority = re.split(r"[/?#]", body, maxsplit=1)[0]
    if "@" not in authority:
        return endpoint
    return (scheme + sep if sep else "") + "***@" + authority.rpartition("@")[2] + body[len(authority):]


def _refuse_userinfo(endpoint: str, expected: str) -> None:
    """``http://user:password@host`` is refused, before any message could quote the endpoint: the
    API authenticates by signature, so a user and password there are a mistake, and urllib3 would
    put them in the Host header of every request. The error shows the endpoint without them."""
    scheme, sep, rest = endpoint.partition("://")
    authority = re.split(r"[/?#]", rest if sep else endpoint, maxsplit=1)[0]
    if "@" not in authority:
        return
    shown = (scheme + sep if sep else "") + authority.rpartition("@")[2]
    raise ValueError(f"endpoint {shown!r} has a user name or password before '@' (not shown): an endpoint takes "
                     "no credentials; give the key pair as access_key_id/access_key_secret, a profile or the "
                     f"environment, and the endpoint without 'user:password@'; {expected}")


def parse_endpoint(endpoint: str | None) -> tuple[str, str, str]:
    """(scheme, host[:port], path) from a host or a URL; None -> $DMS_MAGIC_ENDPOINT -> central.

    ``dms-enterprise.cn-hangzhou.aliyuncs.com`` -> https; ``http://127.0.0.1:8765`` (the sandbox)
    keeps its scheme and port.
    """
    expected = f"expected a host such as {CENTRAL_ENDPOINT!r} or a URL such as 'http://127.0.0.1:8765'"
    if endpoint is None:
        endpoint = env_endpoint() or CENTRAL_ENDPOINT
    elif not isinstance(endpoint, str):
        raise TypeError(f"endpoint={endpoint!r} is invalid: {expected} (a str, not {type(endpoint).__name__})")
    endpoint = endpoint.strip()
    _refuse_userinfo(endpoint, expected)
    if not endpoint:
        raise ValueError(f"endpoint='' is empty: {expected}, or leave it out (None) for $DMS_MAGIC_ENDPOINT, "
                         "else the central endpoint")
    if any(ch.isspace() or not ch.isprintable() for ch in endpoint):
        raise ValueError(f"endpoint={endpoint!r} is invalid: it contains whitespace or a control character; "
                         f"{expected}")
    if "://" not in endpoint:
        endpoint = "https://" + endpoint
    parts = urlsplit(endpoint)
    try:
        parts.port  # noqa: B018 - a non-numeric port raises here, not on the first call
    except ValueError:
        raise ValueError(f"endpoint={endpoint!r} has an invalid port; {expected}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"endpoint={endpoint!r} is invalid: {expected}")
    return parts.scheme, parts.netloc, parts.path or "/"


def seconds(name: str, value: Any, *, zero_ok: bool = False, high: float = MAX_SECONDS) -> float:
    """A finite number of seconds in (0, high] ([0, high] with zero_ok), else an error naming ``name``."""
    low = "[0" if zero_ok else "(0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} is invalid: expected a number of seconds in {low}, {high:g}]")
    try:
        number = float(value)
    except (OverflowError, ValueError):
        number = math.inf
    if not (0 <= number <= high) or (number == 0 and not zero_ok):  # NaN fails every comparison
        raise ValueError(f"{name}={value!r} is invalid: expected a number of seconds in {low}, {high:g}]")
    return number


def count(name: str, value: Any, high: int = 100, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= int(value) <= high:
        raise ValueError(f"{name}={value!r} is invalid: expected an integer in [{low}, {high}]")
    return int(value)


def flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name}={value!r} is invalid: expected True or False")
    return value


def header_text(name: str, value: Any) -> str | None:
    """A value that goes into a header (a user-agent suffix): printable text, no line breaks."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name}={value!r} is invalid: expected a str")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError(f"{name}={value!r} is invalid: it contains a control character (a line break or "
                         "similar), which cannot go into a header")
    try:
        value.encode("latin-1")  # what http.client writes a header value as
    except UnicodeEncodeError:
        raise ValueError(f"{name}={value!r} is invalid: a header value must be Latin-1 text (ASCII is safest); "
                         "non-Latin-1 characters such as CJK cannot go into the User-Agent header") from None
    return value.strip()


def callback(name: str, value: Any) -> Any:
    """An optional callable (``progress=``): None, or something that can be called."""
    if value is not None and not callable(value):
        raise TypeError(f"{name}={value!r} is invalid: expected a callable taking a ProgressEvent (or None)")
    return value


def timeout_pair(value: Any, *, name: str = "timeout") -> tuple[float | None, float] | None:
    """A per-call ``timeout=``: seconds per read (connect None: the client's, capped at this read
    timeout), or a (connect, read) pair; None keeps the client's."""
    if value is None:
        return None
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(f"{name}={value!r} is invalid: expected seconds or a (connect, read) pair")
        return seconds(f"{name}[0] (connect)", value[0]), seconds(f"{name}[1] (read)", value[1])
    return None, seconds(name, value)


# Credentials go into headers (key id, STS token) or into the HMAC (secret): a CR/LF there would
# let a pasted value add headers or split the request, so any control character is refused.
_CREDENTIAL_FIELDS = ("access_key_id", "access_key_secret", "security_token")


def _has_control_character(value: Any) -> bool:
    return isinstance(value, str) and any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def refuse_bad_credential(cred: Any) -> None:
    # The values are looked at in a helper frame that returns normally: the frame that raises holds
    # only the credential object, whose repr hides them.
    bad = next((name for name in _CREDENTIAL_FIELDS if _has_control_character(getattr(cred, name, None))), None)
    if bad is not None:
        raise CredentialError(f"the {bad} contains a control character (a line break, tab or similar), which "
                              "cannot go into a request; check how it was copied or exported (value not shown)")
