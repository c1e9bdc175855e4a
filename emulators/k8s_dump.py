"""A world for the Kubernetes emulator from a real cluster's dump, so the policy and an
investigation can be tried against that cluster's state offline.

A dump is a directory of JSON files written by `kubectl get TYPES -A -o json` (a `List`, or a
typed list such as `PodList` from `kubectl get --raw`), or single objects. Every object whose
kind the emulator serves is loaded; others are counted in `Dump.skipped`. Optional pod logs:
`logs/<namespace>/<pod>/<container>.log` (and `<container>.previous.log`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulators.k8s_resources import BY_KIND


class DumpError(ValueError):
    """The dump cannot be read; the message names the file and what to do."""


@dataclass
class Dump:
    cluster: dict[str, Any] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    files: int = 0


def _items(doc: Any, source: Path) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        raise DumpError(f"{source}: expected a Kubernetes object or List, got {type(doc).__name__}")
    kind = str(doc.get("kind", ""))
    if not kind.endswith("List") or "items" not in doc:
        return [doc]
    items = doc.get("items") or []
    if kind != "List":  # a typed list (PodList): its items carry no kind of their own
        for item in items:
            item.setdefault("kind", kind.removesuffix("List"))
            item.setdefault("apiVersion", doc.get("apiVersion", "v1"))
    return [i for i in items if isinstance(i, dict)]


def _add(dump: Dump, obj: dict[str, Any]) -> None:
    kind = BY_KIND.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
    meta = obj.get("metadata")
    if kind is None or not isinstance(meta, dict) or not meta.get("name"):
        dump.skipped[f"{obj.get('apiVersion')}/{obj.get('kind')}"] += 1
        return
    meta.pop("managedFields", None)  # write bookkeeping, noise for an investigation
    dump.cluster.setdefault(kind.key, []).append(obj)


def _logs(directory: Path) -> dict[str, dict[str, dict[str, str]]]:
    logs: dict[str, dict[str, dict[str, str]]] = {}
    for path in sorted((directory / "logs").glob("*/*/*.log")):
        namespace, pod = path.parent.parent.name, path.parent.name
        container, previous = path.stem.removesuffix(".previous"), path.stem.endswith(".previous")
        which = "previous" if previous else "current"
        logs.setdefault(f"{namespace}/{pod}", {}).setdefault(which, {})[container] = path.read_text(
            errors="replace"
        )
    return logs


def read_dump(path: Path) -> Dump:
    """Read a dump directory (or one file) into a `cluster` scenario section."""
    if not path.exists():
        raise DumpError(f"{path}: no such file or directory; point --from-dump at kubectl output")
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise DumpError(f"{path}: no *.json files; write them with `kubectl get ... -A -o json`")
    dump = Dump()
    for file in files:
        try:
            doc = json.loads(file.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DumpError(f"{file}: not JSON ({exc}); dump with `-o json`") from exc
        for obj in _items(doc, file):
            _add(dump, obj)
        dump.files += 1
    if path.is_dir():
        logs = _logs(path)
        if logs:
            dump.cluster["logs"] = logs
    # namespaces the objects live in exist even when the dump did not list them
    known = {n["metadata"]["name"] for n in dump.cluster.get("namespaces", [])}
    used = {
        o["metadata"]["namespace"]
        for key, objs in dump.cluster.items()
        if key != "logs"
        for o in objs
        if o["metadata"].get("namespace")
    }
    for name in sorted(used - known):
        dump.cluster.setdefault("namespaces", []).append(name)
    return dump


def load_dump(path: Path) -> dict[str, Any]:
    """The `cluster` scenario section for `KubernetesEmulator({"cluster": ...})`."""
    return read_dump(path).cluster
