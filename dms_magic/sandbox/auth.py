"""Request authentication like the Alibaba Cloud gateway: ACS3-HMAC-SHA256.

The verifier rebuilds the canonical request over exactly the headers the client listed in
SignedHeaders (the official SDK signs every header it sends) with the shared ``signing`` code, and
checks, in the gateway's order: a well-formed Authorization, a known AccessKey (and its STS token),
a fresh x-acs-date (15-minute window), the signature, then a nonce never seen before.
"""
from __future__ import annotations

import calendar
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..errors import SandboxAuthFailure
from ..wire import signing

TIMESTAMP_WINDOW_S = 15 * 60
# Headers a signature must cover: the gateway rejects a request that leaves them unsigned.
MUST_SIGN = ("host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce")


@dataclass(frozen=True)
class KeyPair:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None  # set for an STS key: requests must carry this token

    def __repr__(self) -> str:  # the secret and the token never appear in a repr
        return f"KeyPair({self.access_key_id!r}, sts={self.security_token is not None})"


class NonceStore:
    """Nonces seen within the timestamp window; older ones can no longer be replayed anyway."""

    def __init__(self, window_s: float = TIMESTAMP_WINDOW_S):
        self.window_s = window_s
        self._seen: dict[str, float] = {}
        self._order: deque[tuple[float, str]] = deque()
        self._lock = threading.Lock()

    def claim(self, key: str, now: float) -> bool:
        """True the first time ``key`` is seen within the window."""
        with self._lock:
            while self._order and self._order[0][0] < now - 2 * self.window_s:
                _, old = self._order.popleft()
                self._seen.pop(old, None)
            if key in self._seen:
                return False
            self._seen[key] = now
            self._order.append((now, key))
            return True


def parse_acs_date(text: str) -> float:
    """Seconds since the epoch from ``2024-01-02T03:04:05Z``; ValueError when malformed."""
    return float(calendar.timegm(time.strptime(text.strip(), "%Y-%m-%dT%H:%M:%SZ")))


class Verifier:
    def __init__(self, keys: Mapping[str, KeyPair], *, window_s: float = TIMESTAMP_WINDOW_S):
        self.keys = dict(keys)
        self.window_s = window_s
        self.nonces = NonceStore(window_s)

    def verify(self, method: str, path: str, query: Mapping[str, str] | str, headers: Mapping[str, str],
               body: bytes, *, now: float | None = None) -> KeyPair:
        """The key pair that signed the request, or SandboxAuthFailure."""
        return self.verify_then_read(method, path, query, headers, lambda: body, now=now)[0]

    def verify_then_read(self, method: str, path: str, query: Mapping[str, str] | str, headers: Mapping[str, str],
                         read_body: Callable[[], Any], *, now: float | None = None) -> tuple[KeyPair, Any]:
        """(key pair, body): the request authenticated from its headers before ``read_body()`` is
        called, so an unsigned or wrongly signed request costs no body read (32 unsigned 16 MiB
        bodies used to leave +240 MB behind). The signature covers x-acs-content-sha256, which the
        body is then held to. Without that header (the SDK always sends it) the body is read first,
        as its hash is what was signed. ``read_body`` may return a refusal instead of bytes (a
        Response): it is passed back as the body, unchecked."""
        now = time.time() if now is None else now
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            algorithm, key_id, signed, claimed = signing.parse_authorization(lower.get("authorization", ""))
        except ValueError as exc:
            raise SandboxAuthFailure("IncompleteSignature", f"The request signature does not conform to Aliyun "
                              f"standards: {exc}.") from None
        if algorithm != signing.ALGORITHM:
            raise SandboxAuthFailure("IncompleteSignature", f"The signature algorithm {algorithm!r} is not supported; "
                              f"use {signing.ALGORITHM}.")
        signed_lower = {name.lower() for name in signed}
        unsigned = [name for name in MUST_SIGN if name not in signed_lower]
        unsigned += [name for name in lower if name.startswith("x-acs-") and name not in signed_lower
                     and name != "x-acs-signature"]
        if unsigned:
            raise SandboxAuthFailure("IncompleteSignature", "The request signature does not conform to Aliyun "
                              f"standards: SignedHeaders must include {', '.join(sorted(set(unsigned)))}.")
        missing = [name for name in signed_lower if name not in lower]
        if missing:
            raise SandboxAuthFailure("IncompleteSignature", "The request signature does not conform to Aliyun "
                              f"standards: signed header(s) {', '.join(sorted(missing))} were not sent.")

        pair = self.keys.get(key_id)
        if pair is None:
            raise SandboxAuthFailure("InvalidAccessKeyId.NotFound")
        token = lower.get("x-acs-security-token")
        if pair.security_token is not None and not token:
            raise SandboxAuthFailure("MissingSecurityToken")
        if token is not None and token != (pair.security_token or ""):
            raise SandboxAuthFailure("InvalidSecurityToken.MismatchWithAccessKey")

        try:
            sent_at = parse_acs_date(lower.get("x-acs-date", ""))
        except ValueError:
            raise SandboxAuthFailure("InvalidTimeStamp.Format", "x-acs-date must look like 2024-01-02T03:04:05Z "
                              "(UTC).") from None
        if abs(now - sent_at) > self.window_s:
            raise SandboxAuthFailure("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired: "
                              f"x-acs-date {lower['x-acs-date'].strip()} is more than 15 minutes from the "
                              "server's clock. Check the clock of the calling machine.")

        claimed_hash = lower.get("x-acs-content-sha256")
        body = None if claimed_hash else read_body()
        if not claimed_hash and not isinstance(body, (bytes, bytearray)):
            return pair, body  # the body was refused (too large) before it could be hashed
        payload_hash = claimed_hash or signing.hash_payload(body)
        text, _ = signing.canonical_request(method, path, query, lower, payload_hash, signed)
        to_sign = signing.string_to_sign(text)
        expected = signing.signature(pair.access_key_secret, to_sign)
        if not _same(expected, claimed):
            raise SandboxAuthFailure("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. "
                              f"server string to sign is:{to_sign}")
        if claimed_hash:  # signed by a known key: now the body is worth reading
            body = read_body()
            if not isinstance(body, (bytes, bytearray)):
                return pair, body
            if claimed_hash != signing.hash_payload(body):
                raise SandboxAuthFailure("SignatureDoesNotMatch", "Specified signature is not matched with our "
                                  "calculation: x-acs-content-sha256 is not the SHA-256 of the body that arrived.")

        nonce = lower.get("x-acs-signature-nonce", "").strip()
        if not nonce:
            raise SandboxAuthFailure("MissingSignatureNonce")
        if not self.nonces.claim(f"{key_id}\x00{nonce}", now):
            raise SandboxAuthFailure("SignatureNonceUsed")
        return pair, body


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())
