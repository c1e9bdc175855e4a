"""A world from a cluster's dump: real kubectl dumps the emulator's cluster, a fresh emulator
process (`python -m emulators.kubernetes --from-dump DIR`) serves the dump, and kubectl gets
the same pods, events and logs back."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from emulators.base import load_scenario
from emulators.k8s_dump import DumpError, read_dump
from emulators.kubernetes import KubernetesEmulator
from tests.emulators.kubectl_cli import REPO, Kubectl, kubectl_binary

pytestmark = pytest.mark.slow
POD = "auth-api-7c9d8f6b5-x2k9p"
# the command docs/emulators.md gives an admin
TYPES = (
    "pods,events,deployments,replicasets,statefulsets,daemonsets,jobs,cronjobs,"
    "services,endpoints,configmaps,ingresses,hpa,pvc,pv,nodes,namespaces"
)


@pytest.fixture
def source(tmp_path) -> Iterator[Kubectl]:
    scenario = copy.deepcopy(load_scenario())
    scenario["cluster"]["tokens"] = []
    with KubernetesEmulator(scenario) as emulator:
        yield Kubectl(kubectl_binary(), emulator.url, tmp_path / "home-source")


@pytest.fixture
def served_dump() -> Iterator[Callable[[Path], tuple[str, str]]]:
    """`start(dump_dir)` runs `python -m emulators.kubernetes --from-dump` on a dump the test
    wrote; returns its URL and the load summary it printed. Killed at teardown."""
    procs: list[subprocess.Popen[str]] = []

    def start(dump: Path) -> tuple[str, str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "emulators.kubernetes", "--from-dump", str(dump)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()  # the URL line, printed once it serves
        assert first, proc.stderr.read()
        return json.loads(first)["url"], proc.stderr.readline()

    yield start
    for proc in procs:
        proc.kill()
        proc.communicate()  # reaps it and closes its pipes


def dump_cluster(kubectl: Kubectl, directory: Path) -> None:
    """What an admin runs against their cluster (see docs/emulators.md)."""
    directory.mkdir()
    world = kubectl("get", TYPES, "-A", "-o", "json")
    assert world.returncode == 0, world.stderr
    (directory / "world.json").write_text(world.stdout)
    for name in ("pods", "nodes"):
        raw = kubectl("get", "--raw", f"/apis/metrics.k8s.io/v1beta1/{name}")
        assert raw.returncode == 0, raw.stderr
        (directory / f"{name[:-1]}metrics.json").write_text(raw.stdout)
    for which, flags in (("", ()), (".previous", ("--previous",))):
        logs = kubectl("logs", "-n", "acme-prod", POD, *flags)
        assert logs.returncode == 0, logs.stderr
        target = directory / "logs" / "acme-prod" / POD / f"auth-api{which}.log"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(logs.stdout)


def test_a_dump_serves_the_same_pods_events_and_logs(source, served_dump, tmp_path):
    dump = tmp_path / "dump"
    dump_cluster(source, dump)
    url, summary = served_dump(dump)
    assert summary.startswith("loaded ") and "from 3 files" in summary
    loaded = read_dump(dump).cluster
    assert {"podmetrics", "nodemetrics", "pods", "events", "logs"} <= set(loaded)
    replica = Kubectl(source.binary, url, tmp_path / "home-replica")

    def pods(kubectl: Kubectl) -> list[dict]:
        result = kubectl("get", "pods", "-A", "-o", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["items"]

    assert pods(replica) == pods(source)
    assert replica("get", "pods", "-A").stdout == source("get", "pods", "-A").stdout
    described = replica("describe", "pod", "-n", "acme-prod", POD)
    assert "Back-off restarting failed container" in described.stdout  # events linked by uid
    assert replica("logs", "-n", "acme-prod", POD).stdout == (
        source("logs", "-n", "acme-prod", POD).stdout
    )
    previous = replica("logs", "-n", "acme-prod", POD, "--previous", "--tail", "1")
    assert "credentials rejected" in previous.stdout
    top = replica("top", "pods", "-n", "acme-prod")  # the dumped PodMetrics
    assert top.returncode == 0 and top.stdout == source("top", "pods", "-n", "acme-prod").stdout


def test_typed_lists_single_objects_and_unknown_kinds(tmp_path):
    # `kubectl get --raw /api/v1/pods` gives a PodList whose items carry no kind
    (tmp_path / "pods.json").write_text(
        json.dumps(
            {
                "kind": "PodList",
                "apiVersion": "v1",
                "items": [{"metadata": {"name": "p1", "namespace": "team-a"}}],
            }
        )
    )
    (tmp_path / "role.json").write_text(
        json.dumps(
            {
                "kind": "Role",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": {"name": "r", "namespace": "team-a"},
            }
        )
    )
    dump = read_dump(tmp_path)
    assert [p["metadata"]["name"] for p in dump.cluster["pods"]] == ["p1"]
    assert dump.cluster["namespaces"] == ["team-a"]  # implied by the objects in it
    assert dump.skipped == {"rbac.authorization.k8s.io/v1/Role": 1}
    with KubernetesEmulator({"cluster": dump.cluster}) as emulator:
        assert emulator._find("pods", "team-a", "p1") is not None


def test_a_bad_dump_is_a_clear_error(tmp_path):
    (tmp_path / "broken.json").write_text("NAME READY STATUS\n")
    with pytest.raises(DumpError, match=r"broken\.json: not JSON .*-o json"):
        read_dump(tmp_path)
    with pytest.raises(DumpError, match="no such file"):
        read_dump(tmp_path / "missing")
    result = subprocess.run(
        [sys.executable, "-m", "emulators.kubernetes", "--from-dump", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "broken.json: not JSON" in result.stderr
