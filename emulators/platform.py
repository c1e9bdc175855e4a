"""A platform HTTP API stand-in: fixed JSON answers per path from the scenario, bearer-token
auth, and 405 for anything but GET/HEAD.

Scenario section `platform`: `token` (required bearer token; omit for no auth) and `responses`
(path → JSON body; a body with `_status` answers that status).
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

from emulators.base import Emulator, Fault, Request, Response, load_scenario, serve_forever
from emulators.scenario_time import resolve_times


class PlatformEmulator(Emulator):
    name = "platform"

    def __init__(self, scenario: dict[str, Any] | None = None, *, port: int = 0) -> None:
        super().__init__(scenario, port=port)
        cfg: dict[str, Any] = resolve_times(copy.deepcopy(self.scenario.get("platform") or {}))
        self.token: str | None = cfg.get("token")
        self.responses: dict[str, Any] = cfg.get("responses") or {}
        self.route("GET", "/healthz", lambda r: Response(200, {"status": "ok"}))
        self.route("*", "/.*", self._answer)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.mode == "expired_token":
            return Response(401, {"error": "token expired"})
        return super().fault_response(fault, request)

    def _answer(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, {"error": f"{request.method} is not allowed here"})
        if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
            return Response(401, {"error": "missing or invalid bearer token"})
        body = self.responses.get(request.path.rstrip("/") or "/")
        if body is None:
            return Response(404, {"error": f"no such resource: {request.path}"})
        if isinstance(body, dict) and "_status" in body:
            rest = {k: v for k, v in body.items() if k != "_status"}
            return Response(int(body["_status"]), rest)
        return Response(200, body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.platform")
    parser.add_argument("--scenario", type=Path, default=None, help="scenario YAML")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve_forever(PlatformEmulator(load_scenario(args.scenario), port=args.port))


if __name__ == "__main__":
    main()
