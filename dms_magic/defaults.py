"""Every default the package falls back on, and every environment variable it reads, in one place.

The bottom layer: the wire client, the session, the sandbox, the masking engine and the notebook all
read these, so none has to import another for them, and a reader of this one file sees every knob
that changes behaviour without an argument. A module that needs a default imports it from here; it
does not keep its own copy (tests/unit/test_defaults.py checks that no environment name is spelled
anywhere else).
"""
from __future__ import annotations

import os

__version__ = "0.1.0"  # the package's version (dms_magic.__version__; the client's User-Agent)

# -- where requests go --------------------------------------------------------------------------------
CENTRAL_ENDPOINT = "dms-enterprise.aliyuncs.com"  # the official SDK's default host
ACTION = "ChatWithDesensitize"  # the API action (its RAM permission is what the error hints name)
SSE_ACTION = "ChatWithDesensitizeSSE"  # its streaming twin
API_VERSION = "2018-11-01"

# -- environment variables ------------------------------------------------------------------------------
ENV_ENDPOINT = "DMS_MAGIC_ENDPOINT"
ENV_INSTANCE_ID = "DMS_MAGIC_INSTANCE_ID"
ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"  # the Alibaba Cloud credential chain's own names
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"
ENV_CREDENTIALS_FILE = "ALIBABA_CLOUD_CREDENTIALS_FILE"
# Other links of the Alibaba Cloud default credential chain, read only to tell whether one is set up.
ENV_ROLE_ARN = "ALIBABA_CLOUD_ROLE_ARN"
ENV_OIDC_TOKEN_FILE = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"
ENV_CREDENTIALS_URI = "ALIBABA_CLOUD_CREDENTIALS_URI"
ENV_ECS_METADATA = "ALIBABA_CLOUD_ECS_METADATA"
ENV_CLI_PROFILE_DISABLED = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED"
ENV_CA_BUNDLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")  # as requests reads them, first set wins
ENV_MASKING_CONFIG = "DMS_MAGIC_MASKING_CONFIG"  # a TOML file of masking categories and operators
ENV_MASKING_KEY = "DMS_MAGIC_MASKING_KEY"  # the default key of the keyed operators (hash, encrypt, ...)
ENV_SANDBOX_SECRET = "DMS_MAGIC_SANDBOX_SECRET"  # `dms-magic-sandbox`'s AccessKey secret
ENV_UPSTREAM_API_KEY = "DMS_MAGIC_UPSTREAM_API_KEY"  # the sandbox's OpenAI-compatible upstream

# -- transport and retries: see the client's transport block below ------------------------------------
# Settings that shape the transport and retries; session.configure() and `%dmschat config` take them.
TRANSPORT_SETTINGS = ("timeout", "connect_timeout", "max_retries", "max_retry_time", "retry_unknown_outcome",
                      "user_agent_suffix")

# -- display and tools ----------------------------------------------------------------------------------
STREAM_REFRESH_SECONDS = 0.05  # seconds between display updates while a stream arrives (magic and form)
# How results are shown (the magic's card, the form's card): settings of the session, like the rest.
DISPLAY_SETTINGS = {
    "show_logprobs": True,  # the token-probability strip, when logprobs were asked
    "show_usage": True,  # the token usage table
    "stream_update_interval": STREAM_REFRESH_SECONDS,
    "interpolate": True,  # the magic replaces {name} in a cell with a defined variable
}
DEFAULT_TOOL_ROUNDS = 5  # tool rounds run before giving up (tool_loop, --run-tools without N)
MAX_TOOL_RESULT_CHARS = 20_000  # a tool's answer beyond this is cut: it goes back into the prompt

# -- the sandbox ----------------------------------------------------------------------------------------
SANDBOX_MODEL = "qwen-plus"  # what the sandbox answers as when the request names no model


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
