"""The ChatWithDesensitize client: ``DmsChatClient`` with its ``ClientSettings``, the streams it
returns, progress events, and the transports it can run on.

Layout by concern: ``_client`` (the client and its send loop), ``_retry`` (the retry policy and its
table), ``_transport`` (urllib3 pools, proxy, TLS; MockTransport for tests), ``_stream`` (the stream
reader), ``_sse`` (SSE parsing), ``_args`` and ``_settings`` (checked arguments), ``credentials``.
"""
from __future__ import annotations

from dms_magic.client._args import parse_endpoint
from dms_magic.client._client import DmsChatClient
from dms_magic.client._events import ProgressEvent
from dms_magic.client._retry import KINDS as RETRY_TABLE
from dms_magic.client._retry import RetryPolicy
from dms_magic.client._settings import TRANSPORT_SETTINGS, ClientSettings, transport_setting
from dms_magic.client._sse import SSEEvent, parse_sse
from dms_magic.client._stream import ChatStream
from dms_magic.client._transport import MockResponse, MockTransport, NotSent, Request, Transport, UrllibTransport

__all__ = ["ChatStream", "ClientSettings", "DmsChatClient", "MockResponse", "MockTransport", "NotSent", "ProgressEvent",
           "RETRY_TABLE", "Request", "RetryPolicy", "SSEEvent", "TRANSPORT_SETTINGS", "Transport",
           "UrllibTransport", "parse_endpoint", "parse_sse", "transport_setting"]
