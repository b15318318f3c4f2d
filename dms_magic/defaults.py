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
