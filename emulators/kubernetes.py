"""A read-only Kubernetes API server: discovery, core/apps/batch resources, pod logs, label and
field selectors, server-side tables. The official Python client and kubectl v1.35 (`get`,
`describe`, `logs`) work against it. Mutating verbs answer 403, as a read-only ClusterRole would.

Scenario section `cluster`: `tokens` (accepted bearer tokens; none: no auth), `version`,
`namespaces`, one list per resource (`pods`, `deployments`, ...; kind/apiVersion/uid filled in),
`logs` ("<ns>/<pod>" → {current: {container: text}, previous: {...}}).

Extra control action: POST /_control/rotate-token {"token": "..."} (only that token is valid
from now on, as when a projected service-account token rotates).
"""

from __future__ import annotations

import argparse
import copy
import re
import uuid
from pathlib import Path
from typing import Any

from emulators.base import Emulator, Fault, Request, Response, load_scenario, serve_forever
from emulators.k8s_tables import table
from emulators.scenario_time import resolve_times

# plural → (group, version, kind, namespaced, short names)
RESOURCES: dict[str, tuple[str, str, str, bool, list[str]]] = {
    "pods": ("", "v1", "Pod", True, ["po"]),
    "services": ("", "v1", "Service", True, ["svc"]),
    "endpoints": ("", "v1", "Endpoints", True, ["ep"]),
    "configmaps": ("", "v1", "ConfigMap", True, ["cm"]),
    "events": ("", "v1", "Event", True, ["ev"]),
    "nodes": ("", "v1", "Node", False, ["no"]),
    "namespaces": ("", "v1", "Namespace", False, ["ns"]),
    "deployments": ("apps", "v1", "Deployment", True, ["deploy"]),
    "replicasets": ("apps", "v1", "ReplicaSet", True, ["rs"]),
    "statefulsets": ("apps", "v1", "StatefulSet", True, ["sts"]),
    "daemonsets": ("apps", "v1", "DaemonSet", True, ["ds"]),
    "jobs": ("batch", "v1", "Job", True, []),
}
GROUPS = {"apps": "v1", "batch": "v1"}
_PREFIX = r"/(?:api/v1|apis/(?P<group>apps|batch)/v1)"
_NAME = r"[a-z0-9][-a-z0-9.]*"


def status(code: int, reason: str, message: str) -> Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return Response(code, body)


class SelectorError(ValueError):
    pass


def _field(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def match_fields(obj: dict[str, Any], selector: str | None) -> bool:
    for term in filter(None, (t.strip() for t in (selector or "").split(","))):
        m = re.fullmatch(r"([A-Za-z0-9_.]+)\s*(!=|==|=)\s*(.*)", term)
        if not m:
            raise SelectorError(f'invalid field selector term "{term}"')
        key, op, want = m.groups()
        if (_field(obj, key) == want) != (op != "!="):
            return False
    return True


def match_labels(labels: dict[str, str], selector: str | None) -> bool:
    terms = re.findall(r"[^,(]+(?:\([^)]*\))?", selector or "")
    for term in (t.strip() for t in terms if t.strip()):
        if m := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if (labels.get(key) in values) != (op == "in"):
                return False
        elif m := re.fullmatch(r"([\w./-]+)\s*(!=|==|=)\s*([\w./-]*)", term):
            key, op, want = m.groups()
            if (labels.get(key) == want) != (op != "!="):
                return False
        elif m := re.fullmatch(r"(!?)([\w./-]+)", term):
            if (m.group(2) in labels) == bool(m.group(1)):
                return False
        else:
            raise SelectorError(f'unable to parse label selector term "{term}"')
    return True


class KubernetesEmulator(Emulator):
    name = "kubernetes"

    def __init__(self, scenario: dict[str, Any] | None = None, *, port: int = 0) -> None:
        super().__init__(scenario, port=port)
        cluster: dict[str, Any] = resolve_times(copy.deepcopy(self.scenario.get("cluster") or {}))
        self.tokens: set[str] = set(cluster.get("tokens") or [])
        self.version = cluster.get("version") or {"major": "1", "minor": "35"}
        self.logs: dict[str, dict[str, dict[str, str]]] = cluster.get("logs") or {}
        self.objects: dict[str, list[dict[str, Any]]] = {r: [] for r in RESOURCES}
        for resource in RESOURCES:
            for obj in cluster.get(resource) or []:
                if isinstance(obj, str):  # `namespaces: [a, b]` is the short form
                    obj = {"metadata": {"name": obj}, "status": {"phase": "Active"}}
                self.objects[resource].append(self._complete(resource, obj))
        self._link_events()
        self.route("GET", "/version/?", lambda r: Response(200, self._version()))
        self.route("GET", "/(?:healthz|readyz|livez)", lambda r: Response(200, "ok"))
        self.route("GET", "/api", self._api_versions)
        self.route("GET", "/apis", self._api_groups)
        self.route("GET", "/api/v1", lambda r: self._resource_list("", "v1"))
        self.route(
            "GET", "/apis/(?P<g>apps|batch)/v1", lambda r: self._resource_list(r.params["g"], "v1")
        )
        self.route("GET", "/apis/(?P<g>apps|batch)", self._api_group)
        self.route("GET", f"{_PREFIX}/(?P<res>[a-z]+)", self._list)
        self.route("GET", f"{_PREFIX}/namespaces/(?P<ns>{_NAME})/(?P<res>[a-z]+)", self._list)
        self.route("GET", f"{_PREFIX}/(?P<res>nodes|namespaces)/(?P<name>{_NAME})", self._get)
        self.route(
            "GET",
            f"{_PREFIX}/namespaces/(?P<ns>{_NAME})/(?P<res>[a-z]+)/(?P<name>{_NAME})",
            self._get,
        )
        self.route(
            "GET", f"/api/v1/namespaces/(?P<ns>{_NAME})/pods/(?P<name>{_NAME})/log", self._log
        )

    def _complete(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        group, version, kind, _, _ = RESOURCES[resource]
        obj = {"apiVersion": f"{group}/{version}" if group else version, "kind": kind, **obj}
        meta = obj.setdefault("metadata", {})
        meta.setdefault(
            "uid",
            str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"{resource}/{meta.get('namespace')}/{meta['name']}")
            ),
        )
        meta.setdefault("resourceVersion", "1000")
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        return obj

    def _link_events(self) -> None:
        """Give each event's involvedObject the uid of the object it names (kubectl describe
        selects events by uid)."""
        kinds = {spec[2]: res for res, spec in RESOURCES.items()}
        for event in self.objects["events"]:
            involved = event.setdefault("involvedObject", {})
            res = kinds.get(str(involved.get("kind")))
            target = res and self._find(res, involved.get("namespace"), str(involved.get("name")))
            if target and "uid" not in involved:
                involved["uid"] = target["metadata"]["uid"]

    # --- the request pipeline ---------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        if self.tokens and request.path not in ("/healthz", "/readyz", "/livez"):
            auth = request.headers.get("authorization", "")
            if auth.removeprefix("Bearer ").strip() not in self.tokens:
                return status(401, "Unauthorized", "Unauthorized")
        if request.method not in ("GET", "HEAD") and request.path.startswith(("/api", "/apis")):
            return self._forbidden(request)
        try:
            return super().dispatch(request)
        except SelectorError as exc:
            return status(400, "BadRequest", str(exc))

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.mode == "expired_token":
            return status(401, "Unauthorized", "Unauthorized")
        return super().fault_response(fault, request)

    def control(self, request: Request) -> Response:
        if request.path == "/_control/rotate-token":
            self.tokens = {str((request.json() or {})["token"])}
            return Response(200, {"rotated": True})
        return super().control(request)

    def _forbidden(self, request: Request) -> Response:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
            request.method, request.method.lower()
        )
        m = re.search(r"/namespaces/([^/]+)/([a-z]+)", request.path)
        ns, res = (m.group(1), m.group(2)) if m else (None, request.path.rsplit("/", 1)[-1])
        where = f' in the namespace "{ns}"' if ns else " at the cluster scope"
        return status(
            403,
            "Forbidden",
            f'{res} is forbidden: User "system:serviceaccount:steadfast:steadfast" cannot '
            f'{verb} resource "{res}" in API group ""{where}',
        )

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

    def _group(self, name: str) -> dict[str, Any]:
        gv = {"groupVersion": f"{name}/v1", "version": "v1"}
        return {"name": name, "versions": [gv], "preferredVersion": gv}

    def _api_groups(self, request: Request) -> Response:
        groups = [self._group(g) for g in GROUPS]
        return Response(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    def _api_group(self, request: Request) -> Response:
        body = {"kind": "APIGroup", "apiVersion": "v1", **self._group(request.params["g"])}
        return Response(200, body)

    def _resource_list(self, group: str, version: str) -> Response:
        resources = []
        for plural, (g, _, kind, namespaced, short) in RESOURCES.items():
            if g != group:
                continue
            resources.append(
                {
                    "name": plural,
                    "singularName": kind.lower(),
                    "namespaced": namespaced,
                    "kind": kind,
                    "verbs": ["get", "list"],
                    "shortNames": short,
                }
            )
            if plural == "pods":
                resources.append(
                    {
                        "name": "pods/log",
                        "singularName": "",
                        "namespaced": True,
                        "kind": "Pod",
                        "verbs": ["get"],
                    }
                )
        gv = f"{group}/{version}" if group else version
        body = {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": resources,
        }
        return Response(200, body)

    # --- resources ------------------------------------------------------------------------
    def _resource(self, request: Request) -> str | None:
        res = request.params["res"]
        spec = RESOURCES.get(res)
        if spec is None or spec[0] != (request.params.get("group") or ""):
            return None
        return res

    def _list(self, request: Request) -> Response:
        res = self._resource(request)
        if res is None:
            return status(404, "NotFound", "the server could not find the requested resource")
        ns = request.params.get("ns")
        items = [
            o
            for o in self.objects[res]
            if (ns is None or o["metadata"].get("namespace") == ns)
            and match_labels(o["metadata"].get("labels") or {}, request.arg("labelSelector"))
            and match_fields(o, request.arg("fieldSelector"))
        ]
        if "as=Table" in request.headers.get("accept", ""):
            return Response(200, table(res, items, "1000"))
        group, version, kind, _, _ = RESOURCES[res]
        body = {
            "kind": f"{kind}List",
            "apiVersion": f"{group}/{version}" if group else version,
            "metadata": {"resourceVersion": "1000"},
            "items": items,
        }
        return Response(200, body)

    def _find(self, res: str, ns: str | None, name: str) -> dict[str, Any] | None:
        for obj in self.objects[res]:
            meta = obj["metadata"]
            if meta["name"] == name and meta.get("namespace") == ns:
                return obj
        return None

    def _get(self, request: Request) -> Response:
        res = self._resource(request)
        if res is None:
            return status(404, "NotFound", "the server could not find the requested resource")
        ns, name = request.params.get("ns"), request.params["name"]
        obj = self._find(res, ns, name)
        if obj is None:
            return status(404, "NotFound", f'{res} "{name}" not found')
        if "as=Table" in request.headers.get("accept", ""):
            return Response(200, table(res, [obj], "1000"))
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
    parser = argparse.ArgumentParser(prog="python -m emulators.kubernetes")
    parser.add_argument("--scenario", type=Path, default=None, help="scenario YAML")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve_forever(KubernetesEmulator(load_scenario(args.scenario), port=args.port))


if __name__ == "__main__":
    main()
