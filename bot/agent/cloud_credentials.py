"""Google credentials from a file named in the settings (GOOGLE_APPLICATION_CREDENTIALS).

google-auth deprecates loading a file of unknown type (`load_credentials_from_file`): a
configuration from an untrusted source could point the token exchange anywhere. The file here
is the admin's own, but the type-specific loaders cost nothing and refuse a type we do not
expect, so each supported type is loaded by its own class.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.agent.errors import ModelAuthFailed

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_TYPES = ("service_account", "external_account", "authorized_user")


def google_credentials(path: Path) -> Any:
    """`google.auth.credentials.Credentials` for Vertex AI from a service-account key, a
    workload-identity-federation (`external_account`) file or a user login file."""
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelAuthFailed(f"cannot read Google credentials file {path}: {exc}") from exc
    kind = info.get("type") if isinstance(info, dict) else None
    if kind not in _TYPES:
        raise ModelAuthFailed(
            f"{path}: credentials of type {kind!r} are not supported for Vertex AI; use one of "
            f"{', '.join(_TYPES)}"
        )
    scopes = [CLOUD_PLATFORM_SCOPE]
    try:
        if kind == "service_account":
            from google.oauth2 import service_account

            return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=scopes
            )
        if kind == "authorized_user":
            from google.oauth2 import credentials

            return credentials.Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
                info, scopes=scopes
            )
        source = info.get("credential_source") or {}
        if str(source.get("environment_id", "")).startswith("aws"):
            from google.auth import aws

            return aws.Credentials.from_info(info, scopes=scopes)  # type: ignore[no-untyped-call]
        from google.auth import identity_pool

        return identity_pool.Credentials.from_info(info, scopes=scopes)  # type: ignore[no-untyped-call]
    except (ValueError, KeyError) as exc:
        raise ModelAuthFailed(f"{path}: not a valid {kind} credentials file: {exc}") from exc
