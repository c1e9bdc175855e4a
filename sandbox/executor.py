"""Run an allowed decision's argv: no shell, clean environment, fixed PATH, timeout, output cap.

Each pipeline stage is its own process joined to the next by a pipe. When `bwrap` (Debian
`bubblewrap`) works on the host, each stage runs inside it: read-only root filesystem, private
/tmp and home directories, new session, no new privileges, dies with its parent. Otherwise
the stage is a plain subprocess with the same environment, PATH, timeout and cap.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from policy.document import Limits
from sandbox.errors import ExecutionRefused, SandboxError
from sandbox.gate import Decision

DEFAULT_SEARCH_PATH = (Path("/usr/local/bin"), Path("/usr/bin"), Path("/bin"))
_PROGRAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FORBIDDEN_ENV = re.compile(r"^(PATH|HOME|TMPDIR|LD_.*|DYLD_.*|BASH_ENV|ENV|SHELLOPTS|IFS)$")
_HIDDEN_DIRS = ("/tmp", "/home", "/root", "/var/tmp", "/run/user")
REDACTED = "[redacted]"


@functools.lru_cache(maxsize=8)
def _bwrap_problem(bwrap: str, true: str) -> str:
    """Why bwrap cannot sandbox here ('' if it can). Probed once per process: it does not
    change while we run, and executors are built per command."""
    probe = [
        bwrap,
        "--ro-bind",
        "/",
        "/",
        "--unshare-all",
        "--share-net",
        "--die-with-parent",
        "--",
        true,
    ]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=10, env={}, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap does not start: {exc}"
    if done.returncode != 0:
        return f"bwrap cannot create a sandbox here: {done.stderr.decode(errors='replace').strip()}"
    return ""


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

    def text(self, secrets: Sequence[str]) -> str:
        out = self.data.decode("utf-8", errors="replace")
        for secret in secrets:
            out = out.replace(secret, REDACTED)
        if self.truncated:
            out += f"\n[output truncated at {self.cap} bytes]"
        return out


class Executor:
    """Runs allowed decisions. `bin_dir` is searched first for programs (e.g. a cached kubectl).

    `sandbox`: None picks bwrap when it works here, True requires it, False never uses it.
    """

    def __init__(
        self,
        limits: Limits,
        *,
        bin_dir: Path | None = None,
        search_path: Sequence[Path] = DEFAULT_SEARCH_PATH,
        sandbox: bool | None = None,
    ) -> None:
        self.limits = limits
        self._search = ([Path(bin_dir)] if bin_dir else []) + [Path(p) for p in search_path]
        self._path_dir = Path(tempfile.mkdtemp(prefix="steadfast-bin-"))
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
        problem = _bwrap_problem(str(found), str(self._find("true") or "/bin/true"))
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
        cmd = [self._bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for hidden in _HIDDEN_DIRS:
            if Path(hidden).is_dir():
                cmd += ["--tmpfs", hidden]
        real_dir = str(program.resolve().parent)
        cmd += ["--ro-bind", real_dir, real_dir]
        cmd += ["--ro-bind", str(self._path_dir), str(self._path_dir)]
        cmd += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
        cmd += ["--unshare-all", "--share-net", "--die-with-parent", "--new-session"]
        return [*cmd, "--", str(program), *argv[1:]]

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
    ) -> ExecResult:
        """Run `decision.argv`. `env` (credentials) goes to the first stage only; its values
        are redacted from the output. `files` are written 0600 into the run's private working
        directory; `{workdir}` in an env value is replaced by that directory's path."""
        if not decision.allowed or not decision.argv or any(not a for a in decision.argv):
            raise ExecutionRefused(
                f"refusing to run a denied command ({decision.rule}): {decision.reason}"
            )
        programs: list[Path] = []
        for argv in decision.argv:
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
            return self._pipeline(decision, programs, workdir, base, injected, secrets)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _pipeline(
        self,
        decision: Decision,
        programs: list[Path],
        workdir: Path,
        base: dict[str, str],
        injected: dict[str, str],
        secrets: list[str],
    ) -> ExecResult:
        cap = self.limits.output_cap_bytes
        procs: list[subprocess.Popen[bytes]] = []

        def kill_all() -> None:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)

        stdout = _Capture(cap, kill_all)
        stderr = _Capture(cap, lambda: None)
        pumps: list[threading.Thread] = []
        merges = decision.merge_stderr or [False] * len(decision.argv)
        started = time.monotonic()
        upstream: IO[bytes] | None = None
        try:
            for index, (program, argv) in enumerate(zip(programs, decision.argv, strict=True)):
                proc = subprocess.Popen(
                    self._wrap(program, argv, workdir),
                    stdin=upstream if upstream is not None else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT if merges[index] else subprocess.PIPE,
                    cwd=workdir,
                    env={**base, **injected} if index == 0 else base,
                    start_new_session=True,
                    close_fds=True,
                )
                procs.append(proc)
                if upstream is not None:
                    upstream.close()  # the next stage holds it; we must not keep it open
                upstream = proc.stdout
                if proc.stderr is not None:
                    pumps.append(threading.Thread(target=stderr.pump, args=(proc.stderr,)))
        except OSError as exc:
            kill_all()
            raise SandboxError(f"cannot start {decision.argv[len(procs)][0]}: {exc}") from exc
        assert upstream is not None
        pumps.append(threading.Thread(target=stdout.pump, args=(upstream,)))
        for pump in pumps:
            pump.daemon = True
            pump.start()
        timed_out = False
        deadline = started + self.limits.command_timeout_seconds
        for proc in procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                timed_out = True
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
        codes = [p.returncode for p in procs]
        exit_code = next((c for c in reversed(codes) if c != 0), 0)
        err = stderr.text(secrets)
        if timed_out:
            err += f"\n[killed after {self.limits.command_timeout_seconds:g} s timeout]"
        return ExecResult(
            exit_code=exit_code,
            stdout=stdout.text(secrets),
            stderr=err,
            truncated=stdout.truncated or stderr.truncated,
            timed_out=timed_out,
            duration_s=time.monotonic() - started,
            sandboxed=self._bwrap is not None,
        )
