"""Where requests go when nobody says: the endpoint and instance defaults and their variables.

The bottom layer: the wire client (``client``) and the process default (``session``) both read
these, so neither has to import the other for them.
"""
from __future__ import annotations

import os

__version__ = "0.1.0"  # the package's version (dms_magic.__version__; the client's User-Agent)

CENTRAL_ENDPOINT = "dms-enterprise.aliyuncs.com"  # the official SDK's default host
ENV_ENDPOINT = "DMS_MAGIC_ENDPOINT"
ENV_INSTANCE_ID = "DMS_MAGIC_INSTANCE_ID"


def env_endpoint() -> str | None:
    """``$DMS_MAGIC_ENDPOINT`` stripped, or None when unset or blank."""
    value = os.environ.get(ENV_ENDPOINT, "").strip()
    return value or None


def env_instance_id() -> str | None:
    """``$DMS_MAGIC_INSTANCE_ID`` stripped, or None when unset or blank (checked by the parameter table)."""
    value = os.environ.get(ENV_INSTANCE_ID, "").strip()
    return value or None


# -- the client's transport (dms_magic.client.ClientSettings) ----------------------------------------
READ_TIMEOUT = 60.0  # seconds per read: a long answer streams, a plain one may take this long
CONNECT_TIMEOUT = 10.0  # seconds to open a connection (never more than the read timeout)
# The retry budget. Only failures that provably did not reach the model are retried by default
# (throttling, 503, refused connections), so waiting costs time, never money. 30 s rides out a
# throttling window many times over and a typical service or gateway restart (a process restart
# behind a load balancer takes seconds to tens of seconds), while a wrong port still surfaces
# within half a minute. MAX_RETRIES is sized so that the time budget is what usually binds.
MAX_RETRIES = 10
MAX_RETRY_TIME = 30.0
BACKOFF_BASE = 0.5  # seconds: the first retry waits up to this (full jitter), doubling up to BACKOFF_CAP
BACKOFF_CAP = 8.0
POOL_SIZE = 64  # kept-alive connections per client (chat_many threads share one client)
# Appended to the User-Agent, as the official SDK does (its Config.user_agent wins over the variable).
ENV_USER_AGENT = "ALIBABA_CLOUD_USER_AGENT"
