"""Run an allowed decision's argv: no shell, clean environment, fixed PATH, timeout, output cap.

Each pipeline stage is its own process. With a `scrub` function the producer (the first stage)
runs alone, its output is scrubbed of secrets, and only then fed to the filter stages, so no
filter can transform a secret into a form the scrubber no longer recognises. Without one the
stages are joined by pipes. When `bwrap` (Debian `bubblewrap`) works on the host, each stage
runs inside it with an allowlisted file view (`sandbox.bwrap`). Otherwise the stage is a plain
subprocess with the same environment, PATH, timeout and cap.

With a `kubeconfig`, the executor (never the model) gives every kubectl stage
`--kubeconfig=<path>`; a kubectl argv that names its own cluster or identity is refused.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from policy.document import Limits
from sandbox.bwrap import bwrap_problem, kubeconfig_files, wrap
from sandbox.errors import ExecutionRefused, SandboxError
from sandbox.gate import Decision

DEFAULT_SEARCH_PATH = (Path("/usr/local/bin"), Path("/usr/bin"), Path("/bin"))
_PROGRAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FORBIDDEN_ENV = re.compile(r"^(PATH|HOME|TMPDIR|LD_.*|DYLD_.*|BASH_ENV|ENV|SHELLOPTS|IFS)$")
# kubectl arguments that pick a cluster or identity: only the executor's kubeconfig may.
_KUBECTL_TARGET = re.compile(
    r"^(--(kubeconfig|server|token|as|as-group|as-uid|context|cluster|user|username|password|"
    r"insecure-skip-tls-verify|certificate-authority|client-certificate|client-key|"
    r"tls-server-name)(=.*)?|-s.*)$"
)
# The producer's output is buffered whole for scrubbing; it may exceed what the model is
# shown (filters usually shrink it), up to this many times the output cap.
PRODUCER_CAP_FACTOR = 8
REDACTED = "[redacted]"
JQ_NO_LIBRARY = ("-L", "/nonexistent/steadfast-jq-library")


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str
    truncated: bool
    timed_out: bool
    duration_s: float
    sandboxed: bool


class _Capture:
    """Keeps the first `cap` bytes of a stream and calls `on_overflow` once when it exceeds."""

    def __init__(self, cap: int, on_overflow: Any) -> None:
        self.cap = cap
        self.data = bytearray()
        self.truncated = False
        self._on_overflow = on_overflow
        self._lock = threading.Lock()

    def pump(self, stream: IO[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError):
            while chunk := stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536):
                with self._lock:
                    room = self.cap - len(self.data)
                    self.data += chunk[: max(room, 0)]
                    if len(chunk) > room and not self.truncated:
                        self.truncated = True
                        self._on_overflow()

    def text(self) -> str:
        out = self.data.decode("utf-8", errors="replace")
        if self.truncated:
            out += f"\n[output truncated at {self.cap} bytes]"
        return out


class Executor:
    """Runs allowed decisions. `bin_dir` is searched first for programs (e.g. a cached kubectl).

    `sandbox`: None picks bwrap when it works here, True requires it, False never uses it.
    `kubeconfig`: the file every kubectl stage is pointed at (the model never names one).
    """

    def __init__(
        self,
        limits: Limits,
        *,
        bin_dir: Path | None = None,
        search_path: Sequence[Path] = DEFAULT_SEARCH_PATH,
        sandbox: bool | None = None,
        kubeconfig: Path | None = None,
    ) -> None:
        self.limits = limits
        # absolute, not resolved: a mounted ConfigMap is a symlink whose target changes
        self.kubeconfig = kubeconfig.absolute() if kubeconfig is not None else None
        self._search = ([Path(bin_dir)] if bin_dir else []) + [Path(p) for p in search_path]
        self._path_dir = Path(tempfile.mkdtemp(prefix="steadfast-bin-"))
        self._path_dir.chmod(0o755)  # bwrap's user namespace maps other ids to nobody
        self._finalizer = weakref.finalize(self, shutil.rmtree, self._path_dir, True)
        self._lock = threading.Lock()
        self._bwrap, self._why_plain = self._probe_bwrap(sandbox)
        if sandbox and self._bwrap is None:
            raise SandboxError(f"bwrap was required but cannot be used: {self._why_plain}")

    # --- setup ---------------------------------------------------------------------------
    def find(self, name: str) -> Path | None:
        """Where `name` would be taken from (bin_dir first), or None."""
        return self._find(name)

    def _find(self, name: str) -> Path | None:
        for directory in self._search:
            candidate = directory / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate.resolve()
        return None

    def _probe_bwrap(self, wanted: bool | None) -> tuple[str | None, str]:
        if wanted is False:
            return None, "disabled by configuration"
        found = self._find("bwrap")
        if found is None:
            return None, "bwrap is not installed (Debian package: bubblewrap)"
        problem = bwrap_problem(str(found), str(self._find("true") or "/bin/true"))
        return (None, problem) if problem else (str(found), "")

    def _link(self, name: str) -> Path | None:
        if not _PROGRAM.fullmatch(name):
            raise ExecutionRefused(f"program {name!r} is not a bare name")
        link = self._path_dir / name
        with self._lock:
            if link.is_symlink():
                return link
            target = self._find(name)
            if target is None:
                return None
            link.symlink_to(target)
        return link

    def describe(self) -> dict[str, Any]:
        """For `doctor`: how commands are isolated here and where programs come from."""
        return {
            "mode": "bwrap" if self._bwrap else "plain",
            "bwrap": self._bwrap,
            "reason": "" if self._bwrap else self._why_plain,
            "path_dir": str(self._path_dir),
            "search_path": [str(p) for p in self._search],
            "programs": sorted(p.name for p in self._path_dir.iterdir()),
            "kubeconfig": str(self.kubeconfig) if self.kubeconfig else None,
            "timeout_seconds": self.limits.command_timeout_seconds,
            "output_cap_bytes": self.limits.output_cap_bytes,
        }

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- running -------------------------------------------------------------------------
    def _wrap(self, program: Path, argv: list[str], workdir: Path) -> list[str]:
        if self._bwrap is None:
            return [str(program), *argv[1:]]
        extra = kubeconfig_files(self.kubeconfig) if self.kubeconfig else []
        return wrap(
            self._bwrap, program, argv, workdir=workdir, path_dir=self._path_dir, read_only=extra
        )

    def _target(self, argv: list[str]) -> list[str]:
        """A kubectl stage gets the executor's kubeconfig; one that names its own is refused.
        jq gets no module search path: nothing on the host to import or include."""
        if argv[0] == "jq":
            return [argv[0], *JQ_NO_LIBRARY, *argv[1:]]
        if argv[0] != "kubectl":
            return argv
        chosen = [a for a in argv[1:] if _KUBECTL_TARGET.match(a)]
        if chosen:
            raise ExecutionRefused(
                f"kubectl argument {chosen[0]!r} picks a cluster or identity; only the "
                "executor's kubeconfig may"
            )
        if self.kubeconfig is None:
            return argv
        return [argv[0], f"--kubeconfig={self.kubeconfig}", *argv[1:]]

    def _environment(
        self, workdir: Path, extra: Mapping[str, str] | None
    ) -> tuple[dict[str, str], dict[str, str]]:
        base = {
            "PATH": str(self._path_dir),
            "HOME": str(workdir),
            "TMPDIR": str(workdir),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }
        injected: dict[str, str] = {}
        for key, value in (extra or {}).items():
            if not _ENV_NAME.fullmatch(key) or _FORBIDDEN_ENV.fullmatch(key):
                raise ExecutionRefused(f"environment variable {key!r} cannot be set for a command")
            injected[key] = value.replace("{workdir}", str(workdir))
        return base, injected

    def run(
        self,
        decision: Decision,
        env: dict[str, str] | None = None,
        *,
        files: Mapping[str, bytes] | None = None,
        scrub: Callable[[str], str] | None = None,
    ) -> ExecResult:
        """Run `decision.argv`. `env` (credentials) goes to the first stage only; its values
        are redacted from the output. `files` are written 0600 into the run's private working
        directory; `{workdir}` in an env value is replaced by that directory's path. `scrub`
        cleans the producer's output before any filter stage reads it, and every output."""
        if not decision.allowed or not decision.argv or any(not a for a in decision.argv):
            raise ExecutionRefused(
                f"refusing to run a denied command ({decision.rule}): {decision.reason}"
            )
        argvs = [self._target(list(argv)) for argv in decision.argv]
        programs: list[Path] = []
        for argv in argvs:
            link = self._link(argv[0])
            if link is None:
                return ExecResult(
                    127,
                    "",
                    f"{argv[0]}: not installed on this host",
                    False,
                    False,
                    0.0,
                    self._bwrap is not None,
                )
            programs.append(link)
        workdir = Path(tempfile.mkdtemp(prefix="steadfast-run-"))
        try:
            for name, content in (files or {}).items():
                if "/" in name or name in ("", ".", ".."):
                    raise ExecutionRefused(f"file name {name!r} must be a plain name")
                path = workdir / name
                path.touch(mode=0o600)
                path.write_bytes(content)
            base, injected = self._environment(workdir, env)
            secrets = sorted((v for v in injected.values() if len(v) >= 6), key=len, reverse=True)
            merges = decision.merge_stderr or [False] * len(argvs)
            stages = [
                _Stage(program, argv, merge, {**base, **injected} if i == 0 else base)
                for i, (program, argv, merge) in enumerate(
                    zip(programs, argvs, merges, strict=True)
                )
            ]
            return self._run_stages(stages, workdir, secrets, scrub)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _run_stages(
        self,
        stages: list[_Stage],
        workdir: Path,
        secrets: list[str],
        scrub: Callable[[str], str] | None,
    ) -> ExecResult:
        cap = self.limits.output_cap_bytes
        started = time.monotonic()
        deadline = started + self.limits.command_timeout_seconds

        def clean(text: str) -> str:
            for secret in secrets:
                text = text.replace(secret, REDACTED)
            return scrub(text) if scrub is not None else text

        if scrub is None or len(stages) == 1:
            runs = [self._pipeline(stages, workdir, None, deadline, cap)]
            answer: _Run | None = runs[0]
        else:
            # The producer alone first; its scrubbed output is the filters' only input.
            first = self._pipeline(stages[:1], workdir, None, deadline, cap * PRODUCER_CAP_FACTOR)
            fed = clean(first.stdout.data.decode("utf-8", errors="replace")).encode()
            if first.stdout.truncated:
                first.notes.append(
                    f"[input to the filters truncated at {cap * PRODUCER_CAP_FACTOR} bytes]"
                )
            runs = [first]
            answer = None  # a producer that timed out feeds no filter; its output is no answer
            if not first.timed_out:
                answer = self._pipeline(stages[1:], workdir, fed, deadline, cap)
                runs.append(answer)
        codes = [c for r in runs for c in r.codes]
        err = "".join(clean(r.stderr.text()) for r in runs)
        notes = [n for r in runs for n in r.notes]
        if any(r.timed_out for r in runs):
            notes.append(f"[killed after {self.limits.command_timeout_seconds:g} s timeout]")
        if notes:
            err += "\n" + "\n".join(notes)
        return ExecResult(
            exit_code=next((c for c in reversed(codes) if c != 0), 0),
            stdout=clean(answer.stdout.text()) if answer is not None else "",
            stderr=err,
            truncated=any(r.stdout.truncated or r.stderr.truncated for r in runs),
            timed_out=any(r.timed_out for r in runs),
            duration_s=time.monotonic() - started,
            sandboxed=self._bwrap is not None,
        )

    def _pipeline(
        self,
        stages: list[_Stage],
        workdir: Path,
        stdin_data: bytes | None,
        deadline: float,
        cap: int,
    ) -> _Run:
        """Start `stages` joined by pipes; `stdin_data` (or nothing) is the first one's input.
        Overflowing `cap` on stdout kills the stages; so does the deadline."""
        procs: list[subprocess.Popen[bytes]] = []

        def kill_all() -> None:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)

        run = _Run(_Capture(cap, kill_all), _Capture(self.limits.output_cap_bytes, lambda: None))
        pumps: list[threading.Thread] = []
        upstream: IO[bytes] | None = None
        try:
            for index, stage in enumerate(stages):
                if index == 0:
                    stdin: Any = subprocess.DEVNULL if stdin_data is None else subprocess.PIPE
                else:
                    stdin = upstream
                proc = subprocess.Popen(
                    self._wrap(stage.program, stage.argv, workdir),
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT if stage.merge_stderr else subprocess.PIPE,
                    cwd=workdir,
                    env=stage.env,
                    start_new_session=True,
                    close_fds=True,
                )
                procs.append(proc)
                if index == 0 and stdin_data is not None:
                    pumps.append(threading.Thread(target=_feed, args=(proc.stdin, stdin_data)))
                if upstream is not None:
                    upstream.close()  # the next stage holds it; we must not keep it open
                upstream = proc.stdout
                if proc.stderr is not None:
                    pumps.append(threading.Thread(target=run.stderr.pump, args=(proc.stderr,)))
        except OSError as exc:
            kill_all()
            raise SandboxError(f"cannot start {stages[len(procs)].argv[0]}: {exc}") from exc
        assert upstream is not None
        pumps.append(threading.Thread(target=run.stdout.pump, args=(upstream,)))
        for pump in pumps:
            pump.daemon = True
            pump.start()
        for proc in procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                run.timed_out = True
                kill_all()
                proc.wait()
        for proc in procs:
            proc.wait()
        for pump in pumps:
            pump.join(timeout=2)
        for proc in procs:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        run.codes = [p.returncode for p in procs]
        return run


@dataclass(frozen=True)
class _Stage:
    program: Path
    argv: list[str]
    merge_stderr: bool
    env: dict[str, str]


@dataclass
class _Run:
    stdout: _Capture
    stderr: _Capture
    codes: list[int] = field(default_factory=list)
    timed_out: bool = False
    notes: list[str] = field(default_factory=list)


def _feed(stream: IO[bytes] | None, data: bytes) -> None:
    """Write the scrubbed producer output to the first filter; a filter that stops reading
    early (head) closes the pipe, which is not an error."""
    if stream is None:
        return
    with contextlib.suppress(BrokenPipeError, OSError, ValueError):
        stream.write(data)
    with contextlib.suppress(BrokenPipeError, OSError, ValueError):
        stream.close()
