"""A Vault stand-in that hvac talks to unmodified: KV v2 read/list/metadata, token
lookup-self/renew-self, AppRole and Kubernetes auth login, `sys/health`,
`sys/seal-status` and `sys/init` (unauthenticated, as in Vault). Issued tokens expire on
their TTL. Writes answer 403, as a read-only Vault policy would.

Scenario section `vault`:
  mount: secret
  tokens: [{token: "...", ttl: 0}]            static tokens (ttl 0: never expire)
  approle: {role_id, secret_id, ttl, max_ttl}
  kubernetes: {role, jwt, ttl, max_ttl}
  secrets: {"tenants/acme/db": {key: value}}   paths under the mount
  timeout_paths: [regex]                       requests whose path matches hang for timeout_ms
  timeout_ms: 30000

Extra control actions: POST /_control/expire-tokens (every issued token expires now),
POST /_control/timeout-paths {"paths": [...]} (replace the hanging paths).
"""

from __future__ import annotations

import argparse
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emulators.base import Emulator, Request, Response, load_scenario, serve_forever

_DENIED = Response(403, {"errors": ["permission denied"]})


class _Token:
    def __init__(self, ttl: int, max_ttl: int, policies: list[str], renewable: bool) -> None:
        self.ttl = ttl
        self.max_ttl = max_ttl
        self.policies = policies
        self.renewable = renewable
        self.issued = time.time()
        self.expires = self.issued + ttl if ttl else None

    def valid(self) -> bool:
        return self.expires is None or time.time() < self.expires


class VaultEmulator(Emulator):
    name = "vault"

    def __init__(self, scenario: dict[str, Any] | None = None, *, port: int = 0) -> None:
        super().__init__(scenario, port=port)
        cfg: dict[str, Any] = self.scenario.get("vault") or {}
        self.mount: str = cfg.get("mount", "secret")
        self.secrets: dict[str, dict[str, Any]] = {
            k.strip("/"): dict(v) for k, v in (cfg.get("secrets") or {}).items()
        }
        self.approle: dict[str, Any] = cfg.get("approle") or {}
        self.kubernetes: dict[str, Any] = cfg.get("kubernetes") or {}
        self.timeout_paths: list[str] = list(cfg.get("timeout_paths") or [])
        self.timeout_ms = int(cfg.get("timeout_ms", 30_000))
        self._tokens_lock = threading.Lock()
        self.tokens: dict[str, _Token] = {}
        for t in cfg.get("tokens") or []:
            self.tokens[t["token"]] = _Token(int(t.get("ttl", 0)), 0, ["root"], False)
        self.logins: list[str] = []
        self.renewals = 0
        m = re.escape(self.mount)
        self.route("GET", "/v1/sys/health", self._health)
        self.route("GET", "/v1/sys/seal-status", self._seal_status)
        self.route("GET", "/v1/sys/init", lambda r: Response(200, {"initialized": True}))
        self.route("POST", "/v1/auth/approle/login", self._approle_login)
        self.route("POST", "/v1/auth/kubernetes/login", self._kubernetes_login)
        self.route("GET", "/v1/auth/token/lookup-self", self._lookup_self)
        self.route("POST", "/v1/auth/token/renew-self", self._renew_self)
        self.route("PUT", "/v1/auth/token/renew-self", self._renew_self)
        self.route("GET", f"/v1/{m}/data/(?P<path>.+)", self._read)
        self.route("GET", f"/v1/{m}/metadata/(?P<path>.*)", self._metadata)
        self.route("LIST", f"/v1/{m}/metadata/(?P<path>.*)", self._list)
        self.route("*", "/v1/.*", lambda r: _DENIED)

    def dispatch(self, request: Request) -> Response:
        if any(re.search(p, request.path) for p in self.timeout_paths):
            time.sleep(self.timeout_ms / 1000)
        return super().dispatch(request)

    def control(self, request: Request) -> Response:
        action = request.path.removeprefix("/_control/")
        if action == "expire-tokens":
            with self._tokens_lock:
                for token in self.tokens.values():
                    if token.expires is not None:
                        token.expires = time.time() - 1
            return Response(200, {"expired": True})
        if action == "timeout-paths":
            self.timeout_paths = list((request.json() or {}).get("paths") or [])
            return Response(200, {"timeout_paths": self.timeout_paths})
        return super().control(request)

    def state(self) -> dict[str, Any]:
        return {**super().state(), "logins": list(self.logins), "renewals": self.renewals}

    def _health(self, request: Request) -> Response:
        body = {
            "initialized": True,
            "sealed": False,
            "standby": False,
            "version": "1.17.0+emulator",
            "cluster_name": "steadfast-emulator",
            "server_time_utc": int(time.time()),
        }
        return Response(200, body)

    def _seal_status(self, request: Request) -> Response:
        # unauthenticated in real Vault: monitoring asks it before it holds any token
        body = {
            "type": "shamir",
            "initialized": True,
            "sealed": False,
            "t": 1,
            "n": 1,
            "progress": 0,
            "nonce": "",
            "version": "1.17.0+emulator",
            "build_date": "2026-01-01T00:00:00Z",
            "migration": False,
            "cluster_name": "steadfast-emulator",
            "cluster_id": "5f0c1a2e-0000-4000-8000-000000000001",
            "recovery_seal": False,
            "storage_type": "inmem",
        }
        return Response(200, body)

    # --- auth -----------------------------------------------------------------------------
    def _issue(self, method: str, cfg: dict[str, Any]) -> Response:
        token = "hvs." + secrets.token_urlsafe(24)
        ttl, max_ttl = int(cfg.get("ttl", 3600)), int(cfg.get("max_ttl", 86400))
        with self._tokens_lock:
            self.tokens[token] = _Token(ttl, max_ttl, ["steadfast-read"], True)
        self.logins.append(method)
        return Response(
            200,
            {
                "auth": {
                    "client_token": token,
                    "accessor": secrets.token_hex(8),
                    "policies": ["default", "steadfast-read"],
                    "lease_duration": ttl,
                    "renewable": True,
                    "metadata": {"role": str(cfg.get("role", "steadfast"))},
                }
            },
        )

    def _approle_login(self, request: Request) -> Response:
        body = request.json() or {}
        if (
            not self.approle
            or body.get("role_id") != self.approle.get("role_id")
            or body.get("secret_id") != self.approle.get("secret_id")
        ):
            return Response(400, {"errors": ["invalid role or secret ID"]})
        return self._issue("approle", self.approle)

    def _kubernetes_login(self, request: Request) -> Response:
        body = request.json() or {}
        cfg = self.kubernetes
        if not cfg or body.get("role") != cfg.get("role"):
            return Response(400, {"errors": [f'invalid role name "{body.get("role")}"']})
        if body.get("jwt") != cfg.get("jwt"):
            return Response(403, {"errors": ["permission denied"]})
        return self._issue("kubernetes", cfg)

    def _token(self, request: Request) -> _Token | None:
        value = request.headers.get("x-vault-token") or ""
        with self._tokens_lock:
            token = self.tokens.get(value)
        return token if token is not None and token.valid() else None

    def _lookup_self(self, request: Request) -> Response:
        token = self._token(request)
        if token is None:
            return _DENIED
        ttl = 0 if token.expires is None else max(0, int(token.expires - time.time()))
        expire = (
            None
            if token.expires is None
            else datetime.fromtimestamp(token.expires, UTC).isoformat()
        )
        return Response(
            200,
            {
                "data": {
                    "ttl": ttl,
                    "creation_ttl": token.ttl,
                    "expire_time": expire,
                    "renewable": token.renewable,
                    "policies": token.policies,
                    "issue_time": datetime.fromtimestamp(token.issued, UTC).isoformat(),
                }
            },
        )

    def _renew_self(self, request: Request) -> Response:
        token = self._token(request)
        if token is None:
            return _DENIED
        if not token.renewable:
            return Response(400, {"errors": ["lease is not renewable"]})
        now = time.time()
        expires = min(now + token.ttl, token.issued + token.max_ttl)
        with self._tokens_lock:
            token.expires = expires
        self.renewals += 1
        return Response(
            200,
            {
                "auth": {
                    "client_token": request.headers.get("x-vault-token"),
                    "lease_duration": int(expires - now),
                    "renewable": True,
                    "policies": token.policies,
                }
            },
        )

    # --- KV v2 ----------------------------------------------------------------------------
    def _read(self, request: Request) -> Response:
        if self._token(request) is None:
            return _DENIED
        path = request.params["path"].strip("/")
        data = self.secrets.get(path)
        if data is None:
            return Response(404, {"errors": []})
        meta = {"created_time": "2026-01-01T00:00:00Z", "version": 1, "destroyed": False}
        return Response(200, {"data": {"data": data, "metadata": meta}})

    def _children(self, prefix: str) -> list[str]:
        prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        keys: set[str] = set()
        for path in self.secrets:
            if path.startswith(prefix):
                rest = path[len(prefix) :]
                head, sep, _ = rest.partition("/")
                keys.add(head + sep)
        return sorted(keys)

    def _list(self, request: Request) -> Response:
        if self._token(request) is None:
            return _DENIED
        keys = self._children(request.params["path"])
        if not keys:
            return Response(404, {"errors": []})
        return Response(200, {"data": {"keys": keys}})

    def _metadata(self, request: Request) -> Response:
        if request.arg("list") == "true":
            return self._list(request)
        if self._token(request) is None:
            return _DENIED
        path = request.params["path"].strip("/")
        if path not in self.secrets:
            return Response(404, {"errors": []})
        return Response(
            200,
            {"data": {"current_version": 1, "versions": {"1": {"destroyed": False}}}},
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.vault")
    parser.add_argument("--scenario", type=Path, default=None, help="scenario YAML")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve_forever(VaultEmulator(load_scenario(args.scenario), port=args.port))


if __name__ == "__main__":
    main()
