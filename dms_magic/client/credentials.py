"""Where the AccessKey comes from: explicit keys, a named profile, or Alibaba Cloud's default chain.

Order (``resolve``): explicit ``access_key_id``/``access_key_secret`` (+ optional STS
``security_token``) > ``profile=NAME`` (the aliyun CLI's ``~/.aliyun/config.json``, then
``~/.alibabacloud/credentials.ini``) > the alibabacloud-credentials default chain (environment
variables, CLI profile, credentials.ini, ECS RAM role, OIDC, credentials URI) > None.

alibabacloud_credentials is imported only when a profile or the chain is actually used: ``import
dms_magic`` and ``has_default_credentials()`` never import it.

Secrets never leave through a repr, str, exception or log line: objects here show the credential's
kind and a masked key id (``LTAI****abcd``) only. The secret and token are kept on a ``Credential``
whose repr hides them, and errors from the SDK are re-raised with the provider's *kind* of failure,
not its message (SDK messages can quote file contents).
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from dms_magic import defaults as D  # noqa: E402
from dms_magic.errors import CredentialError  # noqa: E402
from dms_magic.defaults import ENV_ACCESS_KEY_ID as ENV_ID  # noqa: E402
from dms_magic.defaults import ENV_ACCESS_KEY_SECRET as ENV_SECRET  # noqa: E402
from dms_magic.defaults import ENV_CREDENTIALS_FILE, ENV_SECURITY_TOKEN as ENV_TOKEN  # noqa: E402


def mask_key_id(key_id: str | None) -> str:
    """``LTAI****abcd``: enough to tell keys apart, not enough to use one."""
    if not key_id:
        return "(none)"
    key_id = str(key_id)
    if len(key_id) <= 8:
        return key_id[:2] + "****"
    return f"{key_id[:4]}****{key_id[-4:]}"


@dataclass(frozen=True)
class Credential:
    """One resolved AccessKey (long-term, or STS when ``security_token`` is set)."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        sts = ", sts" if self.security_token else ""
        return f"Credential({mask_key_id(self.access_key_id)}{sts})"

    __str__ = __repr__

    # Pickling or copying into a notebook namespace is fine; dumping fields is not meant for display.


class Secret:
    """A secret or STS token as it arrives from the caller, wrapped so that no frame keeps the raw value.

    Why: tracebacks with locals (``%xmode Verbose``, rich, better-exceptions) print every argument of
    every frame; a constructor that fails for any reason (a bad endpoint, ``timeout=0``) would print
    ``access_key_secret='...'`` into the notebook. The constructor rebinds its arguments to this
    wrapper first, so the frames below it, and it, only ever show ``Secret(hidden)``. The raw value
    leaves only through ``reveal()``, into a ``Credential`` (whose repr hides it too).
    """

    __slots__ = ("_value",)

    def __init__(self, value: Any):
        self._value = value

    def reveal(self) -> Any:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret(hidden)"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # pickling would write the raw value out
        raise TypeError("a Secret cannot be pickled")


def hide(value: Any) -> Any:
    """``value`` wrapped in a ``Secret`` (None and Secrets as they are). Never raises, so the raw
    value is out of the caller's frame before anything can fail there."""
    return value if value is None or isinstance(value, Secret) else Secret(value)


def reveal(value: Any) -> Any:
    """The raw value of a ``Secret`` (anything else as it is)."""
    return value.reveal() if isinstance(value, Secret) else value


def check_secret_types(**secrets_: Any) -> None:
    """TypeError naming the first secret that is not a str, never showing its value (the frame that
    raises holds only Secrets)."""
    for name, value in secrets_.items():
        kind = type(reveal(value))
        if value is not None and kind is not str:
            raise TypeError(f"{name} is invalid: expected a str, not {kind.__name__} (value not shown)")


class CredentialSource:
    """Gives a ``Credential`` on demand (providers such as RAM roles refresh STS tokens themselves)."""

    def __init__(self, kind: str, fetch: Callable[[], Credential], key_id_hint: str | None = None):
        self.kind = kind
        self._fetch = fetch
        self._key_id_hint = key_id_hint
        self._lock = threading.Lock()

    def get(self) -> Credential:
        with self._lock:
            cred = self._fetch()
        self._key_id_hint = cred.access_key_id
        return cred

    @property
    def masked_key_id(self) -> str:
        if self._key_id_hint is None:
            try:
                self.get()
            except CredentialError:
                return "(unavailable)"
        return mask_key_id(self._key_id_hint)

    def __repr__(self) -> str:
        shown = mask_key_id(self._key_id_hint) if self._key_id_hint else "not fetched yet"
        return f"CredentialSource({self.kind}, {shown})"

    __str__ = __repr__


def explicit(access_key_id: str, access_key_secret: str | Secret,
             security_token: str | Secret | None = None) -> CredentialSource:
    if not access_key_id or not access_key_secret:
        missing = "access_key_secret" if access_key_id else "access_key_id"
        raise CredentialError(f"{missing} is missing: give both access_key_id and access_key_secret "
                              "(or neither, to use a profile or the default credential chain)")
    cred = Credential(str(access_key_id), str(reveal(access_key_secret)), reveal(security_token) or None)
    return CredentialSource("explicit" + (" (sts)" if security_token else ""), lambda: cred, cred.access_key_id)


def _from_sdk(provider: Any, kind: str) -> Callable[[], Credential]:
    def fetch() -> Credential:
        try:
            got = provider.get_credentials()
        except Exception as exc:  # noqa: BLE001 - re-raised without the SDK text, which may hold secrets
            raise CredentialError(
                f"could not load credentials from {kind} ({type(exc).__name__}); set "
                f"{ENV_ID}/{ENV_SECRET}, configure a profile with `aliyun configure`, or pass keys explicitly"
            ) from None
        return Credential(got.get_access_key_id(), got.get_access_key_secret(), got.get_security_token() or None)

    return fetch


def _home() -> str:
    # Looked up at call time (the SDK computes HOME once at import).
    return os.path.expanduser("~")


def _cli_config_path() -> str:
    return os.path.join(_home(), ".aliyun", "config.json")


def _ini_path() -> str:
    return os.environ.get(ENV_CREDENTIALS_FILE) or os.path.join(_home(), ".alibabacloud",
                                                                           "credentials.ini")


def _cli_profile_names(path: str) -> list[str]:
    """The profile names in the aliyun CLI config; none for a missing, unreadable or malformed file
    (a hand-edited ``[]`` or ``{"profiles": null}`` must not break the credential lookup)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return []
    profiles = data.get("profiles") if isinstance(data, dict) else None
    if not isinstance(profiles, list):
        return []
    return [p["name"] for p in profiles if isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"]]


def from_profile(name: str) -> CredentialSource:
    """A named profile: the aliyun CLI config first, then credentials.ini."""
    cli_path = _cli_config_path()
    names = _cli_profile_names(cli_path)
    if name in names:
        from alibabacloud_credentials.provider import CLIProfileCredentialsProvider

        provider = CLIProfileCredentialsProvider(profile_name=name, profile_file=cli_path)
        return CredentialSource(f"profile:{name}", _from_sdk(provider, f"profile {name!r} in {cli_path}"))
    ini_path = _ini_path()
    if os.path.exists(ini_path):
        from alibabacloud_credentials.provider import ProfileCredentialsProvider

        provider = ProfileCredentialsProvider(profile_name=name, profile_file=ini_path)
        return CredentialSource(f"profile:{name}", _from_sdk(provider, f"profile {name!r} in {ini_path}"))
    known = ", ".join(names) or "none"
    raise CredentialError(f"profile {name!r} not found in {cli_path} (profiles there: {known}) nor in {ini_path}; "
                          f"create it with `aliyun configure --profile {name}`")


def default_chain() -> CredentialSource:
    """alibabacloud-credentials' default chain, imported now (first use)."""
    # Environment keys (the chain's first link) are read by us directly: the SDK snapshots os.environ
    # at import time, so keys exported later in the notebook would otherwise be missed.
    env_id, env_secret = os.environ.get(ENV_ID), os.environ.get(ENV_SECRET)
    if env_id and env_secret:
        return explicit_env(env_id, env_secret, os.environ.get(ENV_TOKEN))
    from alibabacloud_credentials.provider import DefaultCredentialsProvider

    provider = DefaultCredentialsProvider()
    return CredentialSource("default chain", _from_sdk(provider, "the default credential chain"))


def explicit_env(key_id: str, secret: str, token: str | None) -> CredentialSource:
    source = explicit(key_id, secret, token)
    source.kind = "default chain: environment"
    return source


def resolve(access_key_id: str | None = None, access_key_secret: str | Secret | None = None,
            security_token: str | Secret | None = None, profile: str | None = None) -> CredentialSource | None:
    """The credential source to use, or None when nothing is configured anywhere."""
    if access_key_id or access_key_secret:
        return explicit(access_key_id or "", access_key_secret or "", security_token)
    if profile:
        return from_profile(profile)
    if not has_default_credentials():
        return None
    return default_chain()


def has_default_credentials() -> bool:
    """Cheap check (no SDK import, no network): does any default-chain source look configured?

    Environment keys, OIDC role settings, a credentials URI, an explicit ECS role name, the aliyun
    CLI config with a profile, or a credentials.ini file. (An ECS instance's metadata role without
    ALIBABA_CLOUD_ECS_METADATA is not probed: that would be a network call.)
    """
    env = os.environ
    if env.get(ENV_ID) and env.get(ENV_SECRET):
        return True
    if env.get(D.ENV_ROLE_ARN) and env.get(D.ENV_OIDC_TOKEN_FILE):
        return True
    if env.get(D.ENV_CREDENTIALS_URI) or env.get(D.ENV_ECS_METADATA):
        return True
    if env.get(D.ENV_CLI_PROFILE_DISABLED, "").lower() != "true":
        names = _cli_profile_names(_cli_config_path())
        if names:
            return True
    return os.path.exists(_ini_path())
