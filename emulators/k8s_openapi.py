"""OpenAPI v3 documents for the Kubernetes emulator, enough for `kubectl explain`.

kubectl reads `/openapi/v3` (an index of group-versions, each with a `serverRelativeURL`), then
the document of the resource's group-version, and finds the schema whose
`x-kubernetes-group-version-kind` names the kind. Pod and the fields an investigation reads
(metadata, spec.containers, status) are described; every other kind gets its top-level fields.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from emulators.k8s_resources import KINDS, Kind

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_DESCRIPTIONS = {
    "Pod": "Pod is a collection of containers that can run on a host. This resource is "
    "created by clients and scheduled onto hosts.",
    "Deployment": "Deployment enables declarative updates for Pods and ReplicaSets.",
    "Event": "Event is a report of an event somewhere in the cluster.",
    "Node": "Node is a worker node in Kubernetes.",
}


def _ref(name: str, description: str) -> dict[str, Any]:
    return {
        "allOf": [{"$ref": f"#/components/schemas/{name}"}],
        "default": {},
        "description": description,
    }


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _schema_name(kind: Kind, suffix: str = "") -> str:
    if kind.group == "metrics.k8s.io":
        return f"io.k8s.metrics.pkg.apis.metrics.v1beta1.{kind.kind}{suffix}"
    package = {"": "core", "networking.k8s.io": "networking"}.get(kind.group, kind.group)
    return f"io.k8s.api.{package}.{kind.version}.{kind.kind}{suffix}"


def _top_level(kind: Kind, spec_ref: str | None, status_ref: str | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "apiVersion": _string(
            "APIVersion defines the versioned schema of this representation of an object."
        ),
        "kind": _string(
            "Kind is a string value representing the REST resource this object represents."
        ),
        "metadata": _ref(_META, "Standard object's metadata."),
    }
    if spec_ref:
        properties["spec"] = _ref(
            spec_ref, f"Specification of the desired behavior of the {kind.kind}."
        )
    else:
        properties["spec"] = {
            "type": "object",
            "description": f"The desired state of the {kind.kind}.",
        }
    if status_ref:
        properties["status"] = _ref(
            status_ref, f"Most recently observed status of the {kind.kind}."
        )
    else:
        properties["status"] = {
            "type": "object",
            "description": f"The observed state of the {kind.kind}.",
        }
    return {
        "type": "object",
        "description": _DESCRIPTIONS.get(kind.kind, f"{kind.kind} ({kind.api_version})."),
        "properties": properties,
        "x-kubernetes-group-version-kind": [
            {"group": kind.group, "version": kind.version, "kind": kind.kind}
        ],
    }


def _object_meta() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "ObjectMeta is metadata that all persisted resources must have.",
        "properties": {
            "name": _string("Name must be unique within a namespace."),
            "namespace": _string(
                "Namespace defines the space within which each name must be unique."
            ),
            "labels": {
                "type": "object",
                "additionalProperties": {"type": "string", "default": ""},
                "description": "Map of string keys and values that can be used to organize objects.",
            },
            "uid": _string("UID is the unique in time and space value for this object."),
            "creationTimestamp": {
                "type": "string",
                "format": "date-time",
                "description": "CreationTimestamp is when this object was created.",
            },
        },
    }


def _pod_schemas() -> dict[str, dict[str, Any]]:
    container = {
        "type": "object",
        "required": ["name"],
        "description": "A single application container that you want to run within a pod.",
        "properties": {
            "name": _string("Name of the container specified as a DNS_LABEL."),
            "image": _string("Container image name."),
            "args": {
                "type": "array",
                "items": {"type": "string", "default": ""},
                "description": "Arguments to the entrypoint.",
            },
        },
    }
    spec = {
        "type": "object",
        "required": ["containers"],
        "description": "PodSpec is a description of a pod.",
        "properties": {
            "containers": {
                "type": "array",
                "items": _ref("io.k8s.api.core.v1.Container", ""),
                "description": "List of containers belonging to the pod.",
            },
            "nodeName": _string("NodeName indicates in which node this pod is scheduled."),
            "restartPolicy": _string("Restart policy for all containers within the pod."),
        },
    }
    status = {
        "type": "object",
        "description": "PodStatus represents information about the status of a pod.",
        "properties": {
            "phase": _string(
                "The phase of a Pod is a simple, high-level summary of where the "
                "Pod is in its lifecycle."
            ),
            "podIP": _string("podIP address allocated to the pod."),
        },
    }
    return {
        "io.k8s.api.core.v1.Container": container,
        "io.k8s.api.core.v1.PodSpec": spec,
        "io.k8s.api.core.v1.PodStatus": status,
    }


def _gv_path(kind: Kind) -> str:
    return f"apis/{kind.group}/{kind.version}" if kind.group else "api/v1"


def openapi_document(gv_path: str) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group-version ("api/v1", "apis/apps/v1"), or None."""
    kinds = [k for k in KINDS if _gv_path(k) == gv_path]
    if not kinds:
        return None
    schemas: dict[str, Any] = {_META: _object_meta()}
    paths: dict[str, Any] = {}
    for kind in kinds:
        # kubectl explain finds the kind of a resource through its list operation's
        # x-kubernetes-group-version-kind, then the schema carrying the same extension
        gvk = {"group": kind.group, "version": kind.version, "kind": kind.kind}
        paths[f"{kind.prefix}/{kind.plural}"] = {
            "get": {
                "operationId": f"list{kind.kind}ForAllNamespaces",
                "x-kubernetes-action": "list",
                "x-kubernetes-group-version-kind": gvk,
            }
        }
        if kind.kind == "Pod":
            schemas.update(_pod_schemas())
            top = _top_level(kind, "io.k8s.api.core.v1.PodSpec", "io.k8s.api.core.v1.PodStatus")
        else:
            top = _top_level(kind, None, None)
        schemas[_schema_name(kind)] = top
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def openapi_index() -> dict[str, Any]:
    paths = {}
    for gv in sorted({_gv_path(k) for k in KINDS}):
        digest = hashlib.sha256(json.dumps(openapi_document(gv), sort_keys=True).encode())
        paths[gv] = {
            "serverRelativeURL": f"/openapi/v3/{gv}?hash={digest.hexdigest()[:32].upper()}"
        }
    return {"paths": paths}
