"""ClientSettings: every knob of the transport and the retries in one frozen, checked value.

One object instead of a dozen keyword arguments: the session builds it from the configuration
layer, a test or a notebook builds one with ``dataclasses.replace``; two clients with equal settings
behave alike. Every field is checked when the object is made, so a bad value fails where it was
written, naming the field.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from dms_magic import defaults
from dms_magic.client._args import count, flag, header_text, seconds

# The settings `%dmschat config` and session.configure() take (strings are read as numbers/booleans).
from dms_magic.defaults import TRANSPORT_SETTINGS  # noqa: E402  (one home: defaults)


@dataclass(frozen=True)
class ClientSettings:
    """How a DmsChatClient talks to its endpoint.

    ``timeout``: seconds per read; ``connect_timeout``: seconds to connect (at most ``timeout``).
    Retries (see ``client/_retry.py``): at most ``max_retries`` more attempts, none started after
    ``max_retry_time`` seconds, waits of full-jitter backoff between ``backoff_base`` and
    ``backoff_cap``. ``retry_unknown_outcome=True`` also retries failures after which the model may
    have run and billed (read timeouts, dropped connections, 500/502/504, a model's own 5xx inside
    ``Data``). ``pool_size``: kept-alive connections. ``proxy``: a proxy URL; None reads
    HTTP(S)_PROXY / ALL_PROXY / NO_PROXY when ``trust_env`` (as requests). ``ca_bundle``: a PEM file
    or directory of trusted CAs; None reads REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (when ``trust_env``),
    else certifi's. ``user_agent_suffix``: appended to the User-Agent; None reads
    ``$ALIBABA_CLOUD_USER_AGENT``, "" appends nothing (the official SDK's rule: its
    ``Config.user_agent``, when set, wins over the variable).
    """

    timeout: float = defaults.READ_TIMEOUT
    connect_timeout: float = defaults.CONNECT_TIMEOUT
    max_retries: int = defaults.MAX_RETRIES
    max_retry_time: float = defaults.MAX_RETRY_TIME
    retry_unknown_outcome: bool = False
    backoff_base: float = defaults.BACKOFF_BASE
    backoff_cap: float = defaults.BACKOFF_CAP
    pool_size: int = defaults.POOL_SIZE
    proxy: str | None = None
    trust_env: bool = True
    ca_bundle: str | None = None
    user_agent_suffix: str | None = None

    def __post_init__(self) -> None:
        checked: dict[str, Any] = {
            "timeout": seconds("timeout", self.timeout),
            "connect_timeout": seconds("connect_timeout", self.connect_timeout),
            "max_retries": count("max_retries", self.max_retries),
            "max_retry_time": seconds("max_retry_time", self.max_retry_time, zero_ok=True),
            "retry_unknown_outcome": flag("retry_unknown_outcome", self.retry_unknown_outcome),
            "backoff_base": seconds("backoff_base", self.backoff_base, zero_ok=True, high=3600),
            "backoff_cap": seconds("backoff_cap", self.backoff_cap, zero_ok=True, high=3600),
            "pool_size": count("pool_size", self.pool_size, high=1024, low=1),
            "trust_env": flag("trust_env", self.trust_env),
            "proxy": header_text("proxy", self.proxy) or None,
            "ca_bundle": self.ca_bundle,
            "user_agent_suffix": header_text("user_agent_suffix", self.user_agent_suffix),
        }
        if checked["backoff_cap"] < checked["backoff_base"]:
            raise ValueError(f"backoff_cap={self.backoff_cap!r} is invalid: expected seconds >= backoff_base "
                             f"({self.backoff_base!r})")
        if self.ca_bundle is not None and not (isinstance(self.ca_bundle, str) and os.path.exists(self.ca_bundle)):
            raise ValueError(f"ca_bundle={self.ca_bundle!r} is invalid: expected the path of a PEM file or a "
                             "directory of CA certificates")
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @property
    def timeouts(self) -> tuple[float, float]:
        """(connect, read) seconds: connecting never takes longer than a read may."""
        return min(self.connect_timeout, self.timeout), self.timeout

    def user_agent(self, base: str) -> str:
        """``base`` plus the suffix (this setting, else $ALIBABA_CLOUD_USER_AGENT), as the SDK joins them."""
        suffix = self.user_agent_suffix
        if suffix is None:
            suffix = header_text(defaults.ENV_USER_AGENT, os.environ.get(defaults.ENV_USER_AGENT))
        return f"{base} {suffix}" if suffix else base

    def replace(self, **changes: Any) -> "ClientSettings":
        return dataclasses.replace(self, **changes)


def transport_setting(name: str, value: Any) -> Any:
    """A TRANSPORT_SETTINGS value checked as ClientSettings checks it; strings (from
    ``%dmschat config``) are read as numbers / booleans first. Raises ValueError/TypeError naming it."""
    if name not in TRANSPORT_SETTINGS:
        raise ValueError(f"{name!r} is not a transport setting (known: {', '.join(TRANSPORT_SETTINGS)})")
    if isinstance(value, str) and name != "user_agent_suffix":
        text = value.strip()
        if name == "retry_unknown_outcome":
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(f"{name}={value!r} is invalid: expected true or false")
            value = lowered in ("true", "1", "yes", "on")
        else:
            try:
                value = int(text) if name == "max_retries" else float(text)
            except ValueError:
                raise ValueError(f"{name}={value!r} is invalid: expected a number") from None
    return getattr(ClientSettings(**{name: value}), name)
