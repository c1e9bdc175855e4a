"""An Opsgenie Alert API stand-in (https://docs.opsgenie.com/docs/alert-api and the REST API's
"Response" page for the status codes), authenticated with `Authorization: GenieKey <key>`:

- `POST /v2/alerts` create: `message` required (at most 130 characters), `alias` (at most 512)
  de-duplicates: while an alert with that alias is open a create only raises its `count`.
- `POST /v2/alerts/{identifier}/close?identifierType=alias|id`.
- `GET /v2/alerts/requests/{requestId}`: how an accepted request was processed.
- Both writes answer 202 `{"result": "Request will be processed", "took", "requestId"}`;
  400 for a body that is not JSON, 422 "Request body is not processable" for a missing or too
  long field, 401 for a missing or unknown key, 403 for a key without create/close rights
  (`read_only_keys`), 429 with `Retry-After` through the base fault knob.

Scenario section `opsgenie`: `api_keys: [...]`, `read_only_keys: [...]`.
Inspect with `GET /_control/state`: `alerts` (each with `count` and `status`), `requests`.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from emulators.base import Emulator, Fault, Request, Response, load_scenario, serve_forever


def _answer(status: int, message: str, **extra: Any) -> Response:
    return Response(
        status, {"message": message, "took": 0.001, "requestId": str(uuid.uuid4()), **extra}
    )


class OpsgenieEmulator(Emulator):
    name = "opsgenie"

    def __init__(self, scenario: dict[str, Any] | None = None, *, port: int = 0) -> None:
        super().__init__(scenario, port=port)
        cfg: dict[str, Any] = self.scenario.get("opsgenie") or {}
        self.api_keys: set[str] = set(cfg.get("api_keys") or [])
        self.read_only_keys: set[str] = set(cfg.get("read_only_keys") or [])
        self._state_lock = threading.Lock()
        self.alerts: list[dict[str, Any]] = []
        self.processed: dict[str, dict[str, Any]] = {}
        self.route("POST", "/v2/alerts", self._create)
        self.route("GET", "/v2/alerts/requests/(?P<request_id>[^/]+)", self._request_status)
        self.route("POST", "/v2/alerts/(?P<identifier>[^/]+)/close", self._close)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.mode == "429":
            response = _answer(429, "Rate limit exceeded")
            response.headers["Retry-After"] = f"{fault.retry_after:g}"
            return response
        return super().fault_response(fault, request)

    def _auth(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        key = header.removeprefix("GenieKey ").strip() if header.startswith("GenieKey ") else ""
        if not key or (key not in self.api_keys and key not in self.read_only_keys):
            return _answer(401, "Could not authenticate")
        if key in self.read_only_keys:
            return _answer(403, "You are not authorized for this action")
        return None

    def _body(self, request: Request) -> dict[str, Any] | Response:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _answer(400, "Invalid JSON body")
        if not isinstance(body, dict):
            return _answer(400, "Invalid JSON body")
        return body

    def _create(self, request: Request) -> Response:
        refused = self._auth(request)
        if refused is not None:
            return refused
        body = self._body(request)
        if isinstance(body, Response):
            return body
        errors: dict[str, str] = {}
        message = body.get("message")
        if not isinstance(message, str) or not message.strip():
            errors["message"] = "Message can not be empty."
        elif len(message) > 130:
            errors["message"] = "Message can not be longer than 130 characters."
        alias = body.get("alias")
        if alias is not None and (not isinstance(alias, str) or len(alias) > 512):
            errors["alias"] = "Alias can not be longer than 512 characters."
        if errors:
            return _answer(
                422, "Request body is not processable. Please check the errors.", errors=errors
            )
        request_id = str(uuid.uuid4())
        with self._state_lock:
            alert = self._open(alias) if alias else None
            if alert is None:
                alert = {
                    "id": str(uuid.uuid4()),
                    "tinyId": str(len(self.alerts) + 1),
                    "alias": alias,
                    "message": message,
                    "description": body.get("description"),
                    "details": body.get("details") or {},
                    "priority": body.get("priority", "P3"),
                    "status": "open",
                    "count": 1,
                    "createdAt": time.time(),
                }
                self.alerts.append(alert)
                status = "Created alert"
            else:
                alert["count"] += 1
                status = "Alert is de-duplicated"
            self.processed[request_id] = {
                "success": True,
                "action": "Create",
                "status": status,
                "alertId": alert["id"],
                "alias": alias,
                "isSuccess": True,
            }
        return Response(
            202, {"result": "Request will be processed", "took": 0.002, "requestId": request_id}
        )

    def _close(self, request: Request) -> Response:
        refused = self._auth(request)
        if refused is not None:
            return refused
        body = self._body(request)
        if isinstance(body, Response):
            return body
        kind = request.arg("identifierType", "id")
        identifier = request.params["identifier"]
        request_id = str(uuid.uuid4())
        with self._state_lock:
            alert = (
                self._open(identifier)
                if kind == "alias"
                else next(
                    (a for a in self.alerts if a["id"] == identifier and a["status"] == "open"),
                    None,
                )
            )
            if alert is not None:
                alert["status"] = "closed"
                alert["closeNote"] = body.get("note")
            self.processed[request_id] = {
                "success": alert is not None,
                "action": "Close",
                "isSuccess": alert is not None,
                "status": "Closed alert" if alert is not None else "Alert does not exist",
                "alertId": alert["id"] if alert else None,
            }
        return Response(
            202, {"result": "Request will be processed", "took": 0.002, "requestId": request_id}
        )

    def _request_status(self, request: Request) -> Response:
        refused = self._auth(request)
        if refused is not None:
            return refused
        with self._state_lock:
            found = self.processed.get(request.params["request_id"])
        if found is None:
            return _answer(404, "Request not found. It might not be processed yet.")
        return Response(200, {"data": found, "took": 0.001, "requestId": str(uuid.uuid4())})

    def _open(self, alias: str) -> dict[str, Any] | None:
        return next((a for a in self.alerts if a["alias"] == alias and a["status"] == "open"), None)

    def state(self) -> dict[str, Any]:
        with self._state_lock:
            return {**super().state(), "alerts": [dict(a) for a in self.alerts]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.opsgenie")
    parser.add_argument("--scenario", type=Path, default=None, help="scenario YAML")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve_forever(OpsgenieEmulator(load_scenario(args.scenario), port=args.port))


if __name__ == "__main__":
    main()
