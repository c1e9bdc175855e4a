"""A read-only Kubernetes API server: discovery, the types in `k8s_resources.KINDS`, pod logs,
label and field selectors, server-side tables (with `includeObject`), watches, the
`metrics.k8s.io` API and OpenAPI v3 documents. kubectl v1.35 (`get`, `get -w`, `get
--sort-by`, `describe`, `logs`, `top`, `explain`) and the official Python client work against
it. Mutating verbs answer 403, as a read-only ClusterRole would; so does reading secrets.

Scenario section `cluster`: `tokens` (accepted bearer tokens; none: no auth), `version`,
`namespaces`, one list per type key (`pods`, `deployments`, `ingresses`, `podmetrics`, ...;
kind/apiVersion/uid filled in), `logs` ("<ns>/<pod>" → {current: {container: text},
previous: {...}}). `k8s_dump.load_dump` builds this section from a real cluster's
`kubectl get ... -o json` files (`python -m emulators.kubernetes --from-dump DIR`).

The world can change while the emulator runs: `apply(key, obj)` and `remove(key, ns, name)`
(or POST /_control/apply, /_control/remove) reach open watches; POST /_control/end-watches
closes them. POST /_control/rotate-token {"token": "..."} makes only that token valid from now
on, as when a projected service-account token rotates.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from emulators.base import Emulator, Fault, Request, Response, load_scenario, serve_forever
from emulators.k8s_dump import DumpError, read_dump
from emulators.k8s_metrics import derived_node_metrics, derived_pod_metrics
from emulators.k8s_openapi import openapi_document, openapi_index
from emulators.k8s_resources import BY_KEY, GROUPS, KINDS, Kind, api_group, lookup, resource_list
from emulators.k8s_selectors import SelectorError, match_fields, match_labels
from emulators.k8s_status import forbidden, status
from emulators.k8s_tables import table
from emulators.k8s_watch import WatchHub
from emulators.scenario_time import resolve_times

_GV = r"/(?:api/v1|apis/(?P<group>[a-z0-9.-]+)/(?P<version>v[0-9a-z]+))"
_NAME = r"[a-z0-9][-a-z0-9.]*"
WATCH_TIMEOUT_S = 1800.0  # the API server's own default is 30-60 minutes


class KubernetesEmulator(Emulator):
    name = "kubernetes"

    def __init__(self, scenario: dict[str, Any] | None = None, *, port: int = 0) -> None:
        super().__init__(scenario, port=port)
        cluster: dict[str, Any] = resolve_times(copy.deepcopy(self.scenario.get("cluster") or {}))
        self.tokens: set[str] = set(cluster.get("tokens") or [])
        self.version = cluster.get("version") or {"major": "1", "minor": "35"}
        self.logs: dict[str, dict[str, dict[str, str]]] = cluster.get("logs") or {}
        self.watch_timeout = float(cluster.get("watch_timeout_s", WATCH_TIMEOUT_S))
        self.objects: dict[str, list[dict[str, Any]]] = {k.key: [] for k in KINDS}
        for kind in KINDS:
            for obj in cluster.get(kind.key) or []:
                if isinstance(obj, str):  # `namespaces: [a, b]` is the short form
                    obj = {"metadata": {"name": obj}, "status": {"phase": "Active"}}
                self.objects[kind.key].append(self._complete(kind, obj))
        self._derive_metrics()
        self._link_events()
        # changes get versions above every loaded one (a dump carries the cluster's own)
        versions = [
            int(rv)
            for objs in self.objects.values()
            for o in objs
            if (rv := str(o["metadata"].get("resourceVersion", ""))).isdigit()
        ]
        self.watches = WatchHub(max([1000, *versions]))
        self.route("GET", "/version/?", lambda r: Response(200, self._version()))
        self.route("GET", "/(?:healthz|readyz|livez)", lambda r: Response(200, "ok"))
        self.route("GET", "/api", self._api_versions)
        self.route("GET", "/apis", self._api_groups)
        self.route("GET", "/api/v1", lambda r: Response(200, resource_list("", "v1")))
        self.route("GET", "/apis/(?P<g>[a-z0-9.-]+)/(?P<v>v[0-9a-z]+)", self._group_resources)
        self.route("GET", "/apis/(?P<g>[a-z0-9.-]+)", self._api_group)
        self.route("GET", "/openapi/v3", lambda r: Response(200, openapi_index()))
        self.route("GET", "/openapi/v3/(?P<gv>api/v1|apis/[a-z0-9.-]+/v[0-9a-z]+)", self._openapi)
        self.route("GET", f"{_GV}/(?P<res>[a-z]+)", self._list)
        self.route("GET", f"{_GV}/namespaces/(?P<ns>{_NAME})/(?P<res>[a-z]+)", self._list)
        self.route("GET", f"{_GV}/(?P<res>[a-z]+)/(?P<name>{_NAME})", self._get)
        self.route(
            "GET", f"{_GV}/namespaces/(?P<ns>{_NAME})/(?P<res>[a-z]+)/(?P<name>{_NAME})", self._get
        )
        self.route(
            "GET", f"/api/v1/namespaces/(?P<ns>{_NAME})/pods/(?P<name>{_NAME})/log", self._log
        )

    def _complete(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        obj = {**obj, "apiVersion": kind.api_version, "kind": kind.kind}
        meta = obj.setdefault("metadata", {})
        meta.setdefault(
            "uid",
            str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"{kind.key}/{meta.get('namespace')}/{meta['name']}")
            ),
        )
        meta.setdefault("resourceVersion", "1000")
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        return obj

    def _derive_metrics(self) -> None:
        """metrics-server's view when the scenario or dump brought none."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        pods, nodes = self.objects["pods"], self.objects["nodes"]
        if not self.objects["podmetrics"]:
            for pm in derived_pod_metrics(pods, now):
                self.objects["podmetrics"].append(self._complete(BY_KEY["podmetrics"], pm))
        if not self.objects["nodemetrics"]:
            for nm in derived_node_metrics(nodes, pods, self.objects["podmetrics"], now):
                self.objects["nodemetrics"].append(self._complete(BY_KEY["nodemetrics"], nm))

    def _link_events(self) -> None:
        """Give each event's involvedObject the uid of the object it names (kubectl describe
        selects events by uid)."""
        by_kind = {k.kind: k.key for k in KINDS if k.group != "metrics.k8s.io"}
        for event in self.objects["events"]:
            involved = event.setdefault("involvedObject", {})
            key = by_kind.get(str(involved.get("kind")))
            target = key and self._find(key, involved.get("namespace"), str(involved.get("name")))
            if target and "uid" not in involved:
                involved["uid"] = target["metadata"]["uid"]

    # --- the world changing ---------------------------------------------------------------
    def apply(self, key: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object (by namespace and name) and tell the watches."""
        kind = BY_KEY[key]
        obj = self._complete(kind, copy.deepcopy(obj))
        meta = obj["metadata"]
        old = self._find(key, meta.get("namespace"), meta["name"])
        if old is not None:  # replaced in place: a concurrent list never misses it
            self.objects[key][self.objects[key].index(old)] = obj
        else:
            self.objects[key].append(obj)
        self.watches.publish(key, "MODIFIED" if old is not None else "ADDED", obj)
        return obj

    def remove(self, key: str, namespace: str | None, name: str) -> None:
        obj = self._find(key, namespace, name)
        if obj is None:
            raise KeyError(f"no {key} {namespace}/{name}")
        self.objects[key].remove(obj)
        self.watches.publish(key, "DELETED", obj)

    def stop(self) -> None:
        self.watches.end_all()
        super().stop()

    def __enter__(self) -> Self:
        return self.start()

    # --- the request pipeline ---------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        if self.tokens and request.path not in ("/healthz", "/readyz", "/livez"):
            auth = request.headers.get("authorization", "")
            if auth.removeprefix("Bearer ").strip() not in self.tokens:
                return status(401, "Unauthorized", "Unauthorized")
        if request.method not in ("GET", "HEAD") and request.path.startswith(("/api", "/apis")):
            return self._refuse_write(request)
        try:
            return super().dispatch(request)
        except SelectorError as exc:
            return status(400, "BadRequest", str(exc))

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.mode == "expired_token":
            return status(401, "Unauthorized", "Unauthorized")
        return super().fault_response(fault, request)

    def control(self, request: Request) -> Response:
        action = request.path.removeprefix("/_control/")
        body = (request.json() or {}) if request.body else {}
        if action == "rotate-token":
            self.tokens = {str(body["token"])}
            return Response(200, {"rotated": True})
        try:
            if action == "apply":
                obj = self.apply(str(body["resource"]), body["object"])
                return Response(200, {"resourceVersion": obj["metadata"]["resourceVersion"]})
            if action == "remove":
                self.remove(str(body["resource"]), body.get("namespace"), str(body["name"]))
                return Response(200, {"removed": True})
        except KeyError as exc:
            return Response(400, {"error": f"unknown resource, object or field: {exc}"})
        if action == "end-watches":
            self.watches.end_all()
            return Response(200, {"ended": True})
        return super().control(request)

    def _refuse_write(self, request: Request) -> Response:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
            request.method, request.method.lower()
        )
        m = re.match(rf"{_GV}(?:/namespaces/(?P<ns>[^/]+))?/(?P<res>[a-z]+)", request.path)
        if m is None:
            return forbidden(verb, request.path.rsplit("/", 1)[-1], "", None)
        return forbidden(verb, m.group("res"), m.group("group") or "", m.group("ns"))

    # --- discovery ------------------------------------------------------------------------
    def _version(self) -> dict[str, Any]:
        return {
            "major": str(self.version.get("major", "1")),
            "minor": str(self.version.get("minor", "35")),
            "gitVersion": self.version.get("gitVersion", "v1.35.0"),
            "platform": "linux/amd64",
        }

    def _api_versions(self, request: Request) -> Response:
        body = {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        return Response(200, body)

    def _api_groups(self, request: Request) -> Response:
        groups = [api_group(g) for g in GROUPS]
        return Response(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    def _api_group(self, request: Request) -> Response:
        if request.params["g"] not in GROUPS:
            return status(404, "NotFound", "the server could not find the requested resource")
        body = {"kind": "APIGroup", "apiVersion": "v1", **api_group(request.params["g"])}
        return Response(200, body)

    def _group_resources(self, request: Request) -> Response:
        group, version = request.params["g"], request.params["v"]
        if GROUPS.get(group) != version:
            return status(404, "NotFound", "the server could not find the requested resource")
        return Response(200, resource_list(group, version))

    def _openapi(self, request: Request) -> Response:
        document = openapi_document(request.params["gv"])
        if document is None:
            return status(404, "NotFound", "the server could not find the requested resource")
        return Response(200, document)

    # --- resources ------------------------------------------------------------------------
    def _kind(self, request: Request) -> Kind | None:
        group = request.params.get("group") or ""
        return lookup(group, request.params.get("version") or "v1", request.params["res"])

    def _matching(self, kind: Kind, request: Request) -> list[dict[str, Any]]:
        ns = request.params.get("ns")
        return [o for o in self.objects[kind.key] if self._matches(o, ns, request)]

    @staticmethod
    def _matches(obj: dict[str, Any], ns: str | None, request: Request) -> bool:
        return (
            (ns is None or obj["metadata"].get("namespace") == ns)
            and match_labels(obj["metadata"].get("labels") or {}, request.arg("labelSelector"))
            and match_fields(obj, request.arg("fieldSelector"))
        )

    @staticmethod
    def _as_table(request: Request) -> bool:
        return "as=Table" in request.headers.get("accept", "")

    def _list(self, request: Request) -> Response:
        kind = self._kind(request)
        ns = request.params.get("ns")
        if kind is None or (ns is not None and not kind.namespaced):
            return status(404, "NotFound", "the server could not find the requested resource")
        watching = request.arg("watch") in ("true", "1")
        if kind.forbidden:
            return forbidden("watch" if watching else "list", kind.plural, kind.group, ns)
        if watching:
            return self._watch(kind, request)
        items = self._matching(kind, request)
        rv = str(self.watches.resource_version)
        if self._as_table(request):
            include = request.arg("includeObject", "Metadata") or "Metadata"
            return Response(200, table(kind.key, items, rv, include))
        body = {
            "kind": f"{kind.kind}List",
            "apiVersion": kind.api_version,
            "metadata": {"resourceVersion": rv},
            "items": items,
        }
        return Response(200, body)

    def _watch(self, kind: Kind, request: Request) -> Response:
        if not kind.watchable:
            return status(405, "MethodNotAllowed", "the server does not allow this method")
        ns = request.params.get("ns")
        as_table = self._as_table(request)
        include = request.arg("includeObject", "Metadata") or "Metadata"
        since_arg = request.arg("resourceVersion")
        since = int(since_arg) if since_arg and since_arg.isdigit() and since_arg != "0" else None
        timeout_arg = request.arg("timeoutSeconds")
        timeout = float(timeout_arg) if timeout_arg else self.watch_timeout
        current = self._matching(kind, request)  # a bad selector: 400 before the stream

        def encode(event_type: str, obj: dict[str, Any]) -> bytes:
            if event_type != "DELETED" and not self._matches(obj, ns, request):
                return b""
            if (
                event_type == "DELETED"
                and ns is not None
                and obj["metadata"].get("namespace") != ns
            ):
                return b""
            rv = obj["metadata"].get("resourceVersion", "1000")
            payload = table(kind.key, [obj], rv, include) if as_table else obj
            return json.dumps({"type": event_type, "object": payload}).encode() + b"\n"

        events: Iterator[bytes] = self.watches.stream(kind.key, since, current, timeout, encode)
        return Response(200, stream=events, content_type="application/json")

    def _find(self, key: str, ns: str | None, name: str) -> dict[str, Any] | None:
        for obj in self.objects[key]:
            meta = obj["metadata"]
            if meta["name"] == name and meta.get("namespace") == ns:
                return obj
        return None

    def _get(self, request: Request) -> Response:
        kind = self._kind(request)
        ns, name = request.params.get("ns"), request.params["name"]
        if kind is None or kind.namespaced != (ns is not None):
            return status(404, "NotFound", "the server could not find the requested resource")
        if kind.forbidden:
            return forbidden("get", kind.plural, kind.group, ns, name)
        obj = self._find(kind.key, ns, name)
        if obj is None:
            details = {
                "name": name,
                "kind": kind.plural,
                **({"group": kind.group} if kind.group else {}),
            }
            return status(404, "NotFound", f'{kind.plural} "{name}" not found', details)
        if self._as_table(request):
            include = request.arg("includeObject", "Metadata") or "Metadata"
            return Response(
                200, table(kind.key, [obj], obj["metadata"]["resourceVersion"], include)
            )
        return Response(200, obj)

    def _log(self, request: Request) -> Response:
        ns, name = request.params["ns"], request.params["name"]
        pod = self._find("pods", ns, name)
        if pod is None:
            return status(404, "NotFound", f'pods "{name}" not found')
        containers = [c["name"] for c in pod.get("spec", {}).get("containers") or []]
        container = request.arg("container")
        if container is None:
            if len(containers) != 1:
                return status(
                    400,
                    "BadRequest",
                    f"a container name must be specified for pod {name}, choose one of: "
                    f"[{' '.join(containers)}]",
                )
            container = containers[0]
        if container not in containers:
            return status(400, "BadRequest", f"container {container} is not valid for pod {name}")
        which = "previous" if request.arg("previous") == "true" else "current"
        text = self.logs.get(f"{ns}/{name}", {}).get(which, {}).get(container)
        if text is None and which == "previous":
            return status(
                400,
                "BadRequest",
                f'previous terminated container "{container}" in pod "{name}" not found',
            )
        lines = (text or "").splitlines(keepends=True)
        tail = request.arg("tailLines")
        if tail is not None and tail.lstrip("-").isdigit() and int(tail) >= 0:
            lines = lines[len(lines) - int(tail) :] if int(tail) else []
        return Response(200, "".join(lines), content_type="text/plain")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.kubernetes",
        description="Serve the read-only Kubernetes API emulator on 127.0.0.1.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--scenario", type=Path, default=None, help="scenario YAML")
    source.add_argument(
        "--from-dump",
        type=Path,
        default=None,
        metavar="DIR",
        help="serve a cluster's state from `kubectl get ... -o json` files in DIR",
    )
    parser.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    parser.add_argument(
        "--token", action="append", default=None, help="accepted bearer token (repeatable)"
    )
    args = parser.parse_args(argv)
    if args.from_dump is not None:
        try:
            dump = read_dump(args.from_dump)
        except DumpError as exc:
            parser.error(str(exc))
        loaded = sum(len(v) for k, v in dump.cluster.items() if k != "logs")
        skipped = ", ".join(f"{n} {kind}" for kind, n in sorted(dump.skipped.items()))
        print(
            f"loaded {loaded} objects from {dump.files} files"
            + (f"; skipped (not served): {skipped}" if skipped else ""),
            file=sys.stderr,
        )
        scenario: dict[str, Any] = {"cluster": dump.cluster}
    else:
        scenario = load_scenario(args.scenario)
    if args.token is not None:
        scenario.setdefault("cluster", {})["tokens"] = args.token
    serve_forever(KubernetesEmulator(scenario, port=args.port))


if __name__ == "__main__":
    main()
