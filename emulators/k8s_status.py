"""The API server's `Status` answers (errors), worded as the real server words them; clients
such as kubectl print `message` and branch on `reason`."""

from __future__ import annotations

from typing import Any

from emulators.base import Response

_SA = "system:serviceaccount:steadfast:steadfast"


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return Response(code, body)


def forbidden(verb: str, plural: str, group: str, ns: str | None, name: str = "") -> Response:
    """The API server's RBAC denial, worded as it words it."""
    where = f' in the namespace "{ns}"' if ns else " at the cluster scope"
    what = f'{plural} "{name}"' if name else plural
    details = {"kind": plural, **({"name": name} if name else {})}
    if group:
        details["group"] = group
    return status(
        403,
        "Forbidden",
        f'{what} is forbidden: User "{_SA}" cannot {verb} resource "{plural}" in API group '
        f'"{group}"{where}',
        details,
    )
