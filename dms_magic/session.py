"""The process's default client: which backend answers when nobody says.

Resolution, highest first (the same order for ``%%dmschat`` and ``dms_magic.chat``):

1. what the call says (a cell option, a keyword argument);
2. the configuration layer: ``%config DmsChatMagics.x``, ``%dmschat config key=value`` or
   :func:`configure` (the magic pushes its traitlets values here);
3. the environment: ``DMS_MAGIC_ENDPOINT``, ``DMS_MAGIC_INSTANCE_ID``;
4. defaults: with no endpoint and no credentials anywhere, an in-process sandbox started on first
   use (instance 1); with credentials but no endpoint, the central DMS endpoint.

The endpoint ``"sandbox"`` asks for the in-process sandbox even when credentials exist.
Nothing here imports IPython or pandas; the client and the sandbox are imported on first use.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Mapping

from dms_magic.errors import SettingsError
from dms_magic.defaults import (CENTRAL_ENDPOINT, DISPLAY_SETTINGS, ENV_ENDPOINT, ENV_INSTANCE_ID,  # noqa: F401
                                TRANSPORT_SETTINGS, env_endpoint, env_instance_id)

SANDBOX = "sandbox"  # the endpoint spelling that means "the in-process sandbox"
SANDBOX_INSTANCE_ID = 1  # the instance the in-process sandbox serves

# Settings that choose the client (everything else configurable is a request parameter default).
CLIENT_SETTINGS = ("endpoint", "instance_id", "profile")
# Settings of the client's transport and retries (defaults.TRANSPORT_SETTINGS): checked by
# client.transport_setting, given to DmsChatClient as one ClientSettings.

_lock = threading.RLock()
# The configuration layer (2. above): the process's one settings store. The magic (its traits and
# `%dmschat config`), the form and Python (`dms_magic.configure`) all write and read it.
_config: dict[str, Any] = {}
_clients: dict[tuple, Any] = {}  # (endpoint, profile, instance_id) -> DmsChatClient
_sandbox: Any = None  # the in-process Sandbox once started


@dataclass(frozen=True)
class Settings:
    """Where requests go, and why (``sources`` names the layer each value came from)."""

    endpoint: str | None  # None: the central endpoint; "sandbox": the in-process sandbox
    instance_id: int | None
    profile: str | None
    sources: dict

    @property
    def uses_sandbox(self) -> bool:
        return self.endpoint == SANDBOX


# -- the configuration layer --------------------------------------------------------------------
def configure(**settings: Any) -> None:
    """Set configuration-layer values (None or "" removes one).

    Client settings: ``endpoint``, ``instance_id``, ``profile``; transport settings: ``timeout``
    (seconds per read), ``connect_timeout``, ``max_retries``, ``max_retry_time`` (the retry budget in
    seconds), ``retry_unknown_outcome`` (also retry failures after which the model may have run; see
    README "Retries") and ``user_agent_suffix``, strings such as ``"30"`` or ``"true"`` accepted. Display
    settings (``show_usage``, ``show_logprobs``, ``stream_update_interval``, ``interpolate``) shape the
    magic's and the form's cards (:func:`display_settings`). Any other key must be a request
    parameter (``model``, ``desensitization_rule``, ``temperature``...) and becomes its default for
    every call that does not set it. Every value is checked with the parameter table now, so a bad
    one raises ``InvalidParameterError`` naming the setting here, not on every later call; nothing
    is stored when one value is bad. SSE-only parameters (``stream``, ``include_usage``) are
    defaults for streamed calls only (see :func:`request_params`).
    """
    from dms_magic.errors import InvalidParameterError
    from dms_magic.wire.params import find

    checked: dict[str, Any] = {}
    for key, value in settings.items():
        if key in TRANSPORT_SETTINGS:
            checked[key] = None if value is None or value == "" else _transport_setting(key, value)
            continue
        if key in DISPLAY_SETTINGS:
            checked[key] = None if value is None or value == "" else _display_setting(key, value)
            continue
        name = key if key in CLIENT_SETTINGS else find(key).name
        if name == "messages":
            raise InvalidParameterError("messages", value, "no default: messages come with each call")
        if name == "endpoint" and value not in (None, "", SANDBOX):
            _check_endpoint(value, "endpoint")
        if value is not None and value != "" and name not in ("endpoint", "profile"):
            value = find(name).coerce(value)
        checked[name] = value
    with _lock:
        for name, value in checked.items():
            if value is None or value == "":
                _config.pop(name, None)
            else:
                _config[name] = value


def _transport_setting(key: str, value: Any) -> Any:
    from dms_magic.client import transport_setting

    try:
        return transport_setting(key, value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(str(exc)) from None


def _display_setting(key: str, value: Any) -> Any:
    from dms_magic.wire.params import find

    if key == "stream_update_interval":
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = float("nan")
        if not (0 <= seconds <= 60):  # also refuses NaN
            raise SettingsError(f"stream_update_interval={value!r} is invalid: expected seconds in [0, 60]")
        return seconds
    try:
        return find("need_desensitization").coerce(value)  # the table's own true/false words
    except ValueError:
        raise SettingsError(f"{key}={value!r} is invalid: expected true or false") from None


def display_settings() -> dict[str, Any]:
    """How results are shown: ``defaults.DISPLAY_SETTINGS`` with the configured values applied."""
    with _lock:
        return {key: _config.get(key, default) for key, default in DISPLAY_SETTINGS.items()}


def configured() -> dict[str, Any]:
    """A copy of the configuration layer."""
    with _lock:
        return dict(_config)


def request_defaults() -> dict[str, Any]:
    """Request-parameter defaults from the configuration layer (model, rule, ...)."""
    with _lock:
        return {k: v for k, v in _config.items()
                if k not in CLIENT_SETTINGS and k not in TRANSPORT_SETTINGS and k not in DISPLAY_SETTINGS}


def transport_settings() -> dict[str, Any]:
    """The configured transport settings (timeout, retries), as ClientSettings keywords."""
    with _lock:
        return {k: v for k, v in _config.items() if k in TRANSPORT_SETTINGS}


# -- resolution ---------------------------------------------------------------------------------
def resolve(endpoint: str | None = None, instance_id: Any = None, profile: str | None = None) -> Settings:
    """Apply the precedence rules to the client settings."""
    from dms_magic.wire.params import find

    sources: dict[str, str] = {}
    given = {"endpoint": endpoint, "instance_id": instance_id, "profile": profile}
    env = {"endpoint": env_endpoint(), "instance_id": env_instance_id(), "profile": None}
    conf = configured()
    chosen: dict[str, Any] = {}
    for key in CLIENT_SETTINGS:
        for layer, values in (("option", given), ("config", conf), ("environment", env)):
            if values.get(key) is not None:
                chosen[key] = values[key]
                sources[key] = layer
                break
        else:
            chosen[key] = None
    if chosen["instance_id"] is not None:
        try:
            chosen["instance_id"] = find("instance_id").coerce(chosen["instance_id"])
        except ValueError as exc:
            where = ENV_INSTANCE_ID if sources["instance_id"] == "environment" else "instance_id"
            raise SettingsError(f"{where}={chosen['instance_id']!r} is invalid: expected an integer >= 0 "
                             f"(the DMS instance id)") from exc
    if chosen["endpoint"] not in (None, SANDBOX):
        where = ENV_ENDPOINT if sources["endpoint"] == "environment" else "endpoint"
        _check_endpoint(chosen["endpoint"], where)
    if chosen["endpoint"] is None:
        if chosen["profile"] is None and not _have_credentials():
            chosen["endpoint"] = SANDBOX
            sources["endpoint"] = "default (no endpoint and no credentials: local sandbox)"
        else:
            sources["endpoint"] = "default (central endpoint)"
    if chosen["endpoint"] == SANDBOX and chosen["instance_id"] is None:
        chosen["instance_id"] = SANDBOX_INSTANCE_ID
        sources["instance_id"] = "default (sandbox)"
    return Settings(chosen["endpoint"], chosen["instance_id"], chosen["profile"], sources)


def _check_endpoint(endpoint: Any, where: str) -> None:
    """SettingsError (one line, the password of a ``user:password@`` never in it) for an endpoint the
    client would refuse: found now, before a dry run shows it or a cell does any work."""
    from dms_magic.client import parse_endpoint

    try:
        parse_endpoint(endpoint)
    except (TypeError, ValueError) as exc:
        prefix = f"{where}: " if where != "endpoint" else ""
        raise SettingsError(f"{prefix}{exc}") from None


def _have_credentials() -> bool:
    from dms_magic.client.credentials import has_default_credentials

    return has_default_credentials()


# -- clients ------------------------------------------------------------------------------------
def default_client(endpoint: str | None = None, *, instance_id: Any = None, profile: str | None = None):
    """The DmsChatClient for these settings (resolved as above), created once and reused."""
    settings = resolve(endpoint, instance_id, profile)
    return client_for(settings)


def client_for(settings: Settings):
    """The cached client for these settings and the configured transport settings (a changed
    ``timeout`` or retry setting gets a client of its own)."""
    transport = transport_settings()
    key = (settings.endpoint, settings.profile, settings.instance_id, tuple(sorted(transport.items())))
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _make_client(settings, transport)
            _clients[key] = client
        return client


def _make_client(settings: Settings, transport: Mapping[str, Any]):
    from dms_magic.client import ClientSettings, DmsChatClient

    client_settings = ClientSettings(**transport)
    if settings.uses_sandbox:
        sandbox = ensure_sandbox()
        return DmsChatClient(sandbox.url, access_key_id=sandbox.access_key_id,
                             access_key_secret=sandbox.access_key_secret, instance_id=settings.instance_id,
                             settings=client_settings)
    return DmsChatClient(settings.endpoint, profile=settings.profile, instance_id=settings.instance_id,
                         settings=client_settings)


def ensure_sandbox():
    """The in-process sandbox, started on first use (one per process)."""
    global _sandbox
    with _lock:
        if _sandbox is None:
            from dms_magic.sandbox import start
            from dms_magic.sandbox.sse import MODEL_TOKEN_INTERVAL_MS

            _sandbox = start(stream_token_interval_ms=MODEL_TOKEN_INTERVAL_MS)  # streams at a model's pace
        return _sandbox


def current_sandbox():
    """The running in-process sandbox, or None (never starts one)."""
    return _sandbox


def forget_clients() -> None:
    """Close and forget the cached clients: the next call resolves credentials and settings afresh
    (e.g. after exporting new keys in the notebook). Configuration and the sandbox stay."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        try:
            client.close()
        except Exception:  # closing is best effort; a half-built client must not block a reset
            pass


def reset() -> None:
    """Forget clients, the configuration layer and stop the in-process sandbox."""
    global _sandbox
    forget_clients()
    with _lock:
        _config.clear()
        sandbox, _sandbox = _sandbox, None
    if sandbox is not None:
        sandbox.stop()


# -- calls --------------------------------------------------------------------------------------
def request_params(settings: Settings | None, params: Mapping[str, Any], *,
                   stream: bool | None = None) -> dict[str, Any]:
    """The parameters one call sends: the configured defaults, then ``params`` over them (a None
    value counts as not given; names may be any spelling ``params.find`` knows), then the
    instance of ``settings`` when neither names one. The one place configured defaults are merged.

    ``stream``: whether the call streams; None decides it from ``params["stream"]``, else the
    configured ``stream`` default (``%dmschat config stream=true`` means "stream by default").
    A streamed call's parameters hold ``stream=True``. A call that does not stream gets no
    ``stream`` key and none of the configured SSE-only defaults (``include_usage``); SSE-only
    parameters given explicitly stay, so validation still names them.
    """
    from dms_magic.wire.params import BY_NAME, find

    given = {find(k).name: v for k, v in params.items() if v is not None}
    if "stream" in given:  # the mode switch: read it as the table reads it ("false" is False)
        given["stream"] = BY_NAME["stream"].coerce(given["stream"])
    defaults = request_defaults()
    if stream is None:
        stream = bool(given.get("stream", defaults.get("stream", False)))
    if stream:
        given["stream"] = True
    else:
        defaults = {k: v for k, v in defaults.items() if not BY_NAME[k].sse_only}
        if given.get("stream") is False:  # "do not stream" is the mode, not a parameter to send
            del given["stream"]
    merged = {**defaults, **given}
    if "instance_id" not in merged and settings is not None and settings.instance_id is not None:
        merged["instance_id"] = settings.instance_id
    return merged


def _client_and_params(client: Any, endpoint: str | None, profile: str | None,
                       params: dict[str, Any], stream: bool) -> tuple[Any, dict[str, Any]]:
    """The client to use (resolved unless given) and the parameters to send."""
    settings = None
    if client is None:
        settings = resolve(endpoint, params.get("instance_id"), profile)
        client = client_for(settings)
    return client, request_params(settings, params, stream=stream)


def chat(prompt_or_messages: Any, *, client: Any = None, endpoint: str | None = None,
         profile: str | None = None, images: Any = None, **params: Any):
    """One ChatWithDesensitize call with the default client (or ``client=``) -> ChatResult.

    ``params`` are request parameters by Python name (``model``, ``need_desensitization``,
    ``temperature``, ...); configured defaults fill the ones not given. ``images``: paths, bytes,
    PIL images, URLs... added to the user message (``images.with_images``; sent as they are, not masked).
    """
    prompt_or_messages = _with_images(prompt_or_messages, images)
    client, params = _client_and_params(client, endpoint, profile, params, stream=False)
    return client.chat(prompt_or_messages, **params)


def stream(prompt_or_messages: Any, *, client: Any = None, endpoint: str | None = None,
           profile: str | None = None, images: Any = None, **params: Any):
    """Like :func:`chat` but streamed: iterate the returned ChatStream; ``.result`` after the end."""
    prompt_or_messages = _with_images(prompt_or_messages, images)
    client, params = _client_and_params(client, endpoint, profile, params, stream=True)
    return client.stream(prompt_or_messages, **params)


def _with_images(prompt_or_messages: Any, images: Any) -> Any:
    if images is None:
        return prompt_or_messages
    from dms_magic.images import with_images

    return with_images(prompt_or_messages, images)


# -- status -------------------------------------------------------------------------------------
def status(endpoint: str | None = None, *, instance_id: Any = None, profile: str | None = None) -> dict[str, Any]:
    """What a call would use now: backend, endpoint, credential kind and masked key id, instance.

    Never a secret: only the credential source's ``kind`` and ``masked_key_id``.
    """
    settings = resolve(endpoint, instance_id, profile)
    info: dict[str, Any] = {
        "backend": "sandbox (in-process)" if settings.uses_sandbox else "endpoint",
        "endpoint": None,
        "instance_id": settings.instance_id,
        "profile": settings.profile,
        "credentials": None,
        "access_key_id": None,
        "sources": dict(settings.sources),
        "defaults": request_defaults(),
    }
    if settings.uses_sandbox:
        sandbox = current_sandbox()
        info["endpoint"] = sandbox.url if sandbox is not None else "(starts on first use)"
        info["credentials"] = "sandbox keys (generated for this process)"
    else:
        info["endpoint"] = settings.endpoint or CENTRAL_ENDPOINT
        try:
            from dms_magic.client.credentials import resolve as resolve_credentials

            source = resolve_credentials(profile=settings.profile)
        except Exception as exc:  # a broken profile is a status line, not a crash
            info["credentials"] = f"unavailable ({type(exc).__name__})"
        else:
            if source is None:
                info["credentials"] = "none found"
            else:
                info["credentials"] = source.kind
                info["access_key_id"] = source.masked_key_id
    return info
