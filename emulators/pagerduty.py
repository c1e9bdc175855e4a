"""A PagerDuty Events API v2 stand-in (https://developer.pagerduty.com/docs/events-api-v2/
trigger-events and its overview's "Response Codes & Retry Logic"): `POST /v2/enqueue`.

- 202 `{"status": "success", "message": "Event processed", "dedup_key": ...}` for a valid event.
- 400 `{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}` when
  the JSON is not an event: routing_key missing or not 32 characters, an unknown
  event_action, a trigger without payload.summary/source/severity or with another severity.
  A routing key the scenario does not list is refused the same way (the emulator's choice;
  the real API routes by key and has no other way to say "no such integration").
- 429 with `Retry-After` (the base fault `429`, or `rate_limit_next` below): not ingested.
- Alerts de-duplicate on `dedup_key` per routing key: a trigger for an open alert adds to its
  log and opens nothing; a trigger after a resolve opens a new one; a resolve for no open alert
  is dropped. Each newly opened alert is an *incident* here: one page to a human.

Scenario section `pagerduty`: `routing_keys: [32-character keys]` (empty: any well-formed key).
Inspect with `GET /_control/state`: `events` (accepted, routing key masked), `incidents`,
`refused` (the 400s).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

from emulators.base import Emulator, Fault, Request, Response, load_scenario, serve_forever

SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")


def _invalid(*errors: str) -> Response:
    return Response(
        400,
        {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)},
    )


class PagerDutyEmulator(Emulator):
    name = "pagerduty"

    def __init__(self, scenario: dict[str, Any] | None = None, *, port: int = 0) -> None:
        super().__init__(scenario, port=port)
        cfg: dict[str, Any] = self.scenario.get("pagerduty") or {}
        self.routing_keys: set[str] = set(cfg.get("routing_keys") or [])
        self._state_lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self.incidents: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self._open: dict[tuple[str, str], dict[str, Any]] = {}
        self.route("POST", "/v2/enqueue", self._enqueue)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.mode == "429":
            return Response(
                429,
                {
                    "status": "throttle event",
                    "message": "Requests for this service are arriving "
                    "too quickly. Please retry later.",
                },
                {"Retry-After": f"{fault.retry_after:g}"},
            )
        return super().fault_response(fault, request)

    def _enqueue(self, request: Request) -> Response:
        try:
            event = json.loads(request.body or b"")
        except ValueError:
            return self._refuse({}, "Event object is not valid JSON")
        if not isinstance(event, dict):
            return self._refuse({}, "Event object must be a JSON object")
        errors = self._check(event)
        if errors:
            return self._refuse(event, *errors)
        key = str(event["routing_key"])
        action = str(event["event_action"])
        dedup = str(event.get("dedup_key") or f"gen-{len(self.events) + 1}")
        with self._state_lock:
            record = {
                "at": time.time(),
                "routing_key": key[:4] + "…",
                "event_action": action,
                "dedup_key": dedup,
                "payload": event.get("payload"),
                "links": event.get("links"),
            }
            self.events.append(record)
            alert = self._open.get((key, dedup))
            if action == "trigger":
                if alert is None:
                    alert = {
                        "number": len(self.incidents) + 1,
                        "dedup_key": dedup,
                        "status": "triggered",
                        "summary": (event.get("payload") or {}).get("summary"),
                        "custom_details": (event.get("payload") or {}).get("custom_details"),
                        "triggers": 1,
                    }
                    self.incidents.append(alert)
                    self._open[(key, dedup)] = alert
                else:
                    alert["triggers"] += 1
            elif alert is not None:
                alert["status"] = "resolved" if action == "resolve" else "acknowledged"
                if action == "resolve":
                    del self._open[(key, dedup)]
        return Response(
            202, {"status": "success", "message": "Event processed", "dedup_key": dedup}
        )

    def _check(self, event: dict[str, Any]) -> list[str]:
        errors: list[str] = []
        key = event.get("routing_key")
        if not isinstance(key, str) or len(key) != 32:
            errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
        elif self.routing_keys and key not in self.routing_keys:
            errors.append("'routing_key' is not an integration key of any service")
        if event.get("event_action") not in ACTIONS:
            errors.append("'event_action' is missing or invalid")
        dedup = event.get("dedup_key")
        if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
            errors.append("'dedup_key' must be a string of at most 255 characters")
        if event.get("event_action") == "trigger":
            payload = event.get("payload")
            if not isinstance(payload, dict):
                errors.append("'payload' is missing or invalid")
            else:
                for field in ("summary", "source"):
                    if not payload.get(field):
                        errors.append(f"'payload.{field}' is missing or blank")
                if len(str(payload.get("summary") or "")) > 1024:
                    errors.append("'payload.summary' is longer than 1024 characters")
                if payload.get("severity") not in SEVERITIES:
                    errors.append("'payload.severity' is missing or invalid")
        return errors

    def _refuse(self, event: dict[str, Any], *errors: str) -> Response:
        with self._state_lock:
            self.refused.append({"dedup_key": event.get("dedup_key"), "errors": list(errors)})
        return _invalid(*errors)

    def state(self) -> dict[str, Any]:
        with self._state_lock:
            return {
                **super().state(),
                "events": list(self.events),
                "incidents": [dict(i) for i in self.incidents],
                "refused": list(self.refused),
            }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.pagerduty")
    parser.add_argument("--scenario", type=Path, default=None, help="scenario YAML")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve_forever(PagerDutyEmulator(load_scenario(args.scenario), port=args.port))


if __name__ == "__main__":
    main()
