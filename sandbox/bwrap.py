"""bwrap (Debian `bubblewrap`) around one pipeline stage: an allowlisted file view.

Inside, a command sees only what it needs to run and to reach the cluster: /usr (the tools
and their libraries) with the merged-/usr links, the few /etc files name resolution and TLS
read, the program itself, the executor's PATH directory, the run's private working
directory, the kubeconfig and the files that kubeconfig names (token, CA). Everything else
the host has — other users' homes, the worker's files, /var/run/secrets, /proc of other
processes — is simply absent. /tmp is a private tmpfs; the stage gets new namespaces (the
network one is shared so kubectl and curl can reach their servers), a new session, no new
privileges, and dies with its parent.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Iterable
from pathlib import Path

import yaml

# Top-level directories that are links into /usr on merged-/usr systems (or real directories
# of libraries and tools on older ones).
_SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What name resolution, TLS and `date` read from /etc; nothing else there is needed.
ETC_ALLOWLIST = (
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/localtime",
)


@functools.lru_cache(maxsize=8)
def bwrap_problem(bwrap: str, true: str) -> str:
    """Why bwrap cannot sandbox here ('' if it can). Probed once per process: it does not
    change while we run. The probe uses the same allowlisted view a command gets."""
    probe = [bwrap, *system_view(), "--unshare-all", "--share-net", "--die-with-parent"]
    probe += ["--ro-bind", true, true, "--", true]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=10, env={}, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap does not start: {exc}"
    if done.returncode != 0:
        return f"bwrap cannot create a sandbox here: {done.stderr.decode(errors='replace').strip()}"
    return ""


def system_view() -> list[str]:
    """bwrap arguments for the read-only system part of the view."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in _SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", str(path.readlink()), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    for name in ETC_ALLOWLIST:
        if Path(name).exists():
            args += ["--ro-bind", name, name]
    return [*args, "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]


def kubeconfig_files(kubeconfig: Path) -> list[Path]:
    """The kubeconfig and every file it names (tokenFile, CA, client cert/key), so that the
    view holds exactly the credentials kubectl is meant to use. Relative paths are resolved
    the way kubectl resolves them: against the kubeconfig's directory."""
    files = [kubeconfig]
    try:
        config = yaml.safe_load(kubeconfig.read_text())
    except (OSError, yaml.YAMLError):
        return files  # kubectl will report the broken file itself
    sections: list[object] = []
    if isinstance(config, dict):
        for key, inner in (("clusters", "cluster"), ("users", "user")):
            for entry in config.get(key) or []:
                if isinstance(entry, dict):
                    sections.append(entry.get(inner))
    for section in sections:
        if not isinstance(section, dict):
            continue
        for field in ("tokenFile", "certificate-authority", "client-certificate", "client-key"):
            value = section.get(field)
            if isinstance(value, str) and value:
                path = Path(value)
                files.append(path if path.is_absolute() else kubeconfig.parent / path)
    return files


def wrap(
    bwrap: str,
    program: Path,
    argv: list[str],
    *,
    workdir: Path,
    path_dir: Path,
    read_only: Iterable[Path] = (),
) -> list[str]:
    """The full command line running `program argv[1:]` inside the allowlisted view."""
    cmd = [bwrap, *system_view()]
    binds = [program.resolve(), path_dir, *read_only]
    for path in dict.fromkeys(str(p) for p in binds):
        if Path(path).exists():
            cmd += ["--ro-bind", path, path]
    cmd += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    cmd += ["--unshare-all", "--share-net", "--die-with-parent", "--new-session"]
    return [*cmd, "--", str(program), *argv[1:]]
