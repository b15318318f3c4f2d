"""Issue 12, item 9: idle connections cost no threads, idle ones are closed after a while, and
stop() really stops (streaming and the drop fault on this server: tests/test_sandbox_http.py)."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import requests

from dms_magic import defaults as D
from dms_magic.wire import signing


def _signed(sb, content="hi", action=D.ACTION, query=None):
    body = urlencode({"Messages": json.dumps([{"role": "user", "content": content}])}).encode()
    query = {"InstanceId": "1", **(query or {})}
    headers = signing.sign_headers("POST", "/", query, body, f"127.0.0.1:{sb.port}", action, D.API_VERSION,
                                   sb.access_key_id, sb.access_key_secret)
    return query, body, headers


def _post(sb, content="hi", **kw):
    query, body, headers = _signed(sb, content, **kw)
    return requests.post(f"{sb.url}/?{urlencode(query)}", data=body, headers=headers, timeout=30)


