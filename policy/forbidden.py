"""Deny wins: mutating verbs, flags and methods that no policy file can allow.

The policy is an allowlist that admins edit, so a mistaken edit (`delete: {}` under kubectl's
subcommands) must not open a write path. This module knows the mutating forms of the programs
the agent talks to and judges two things with the same tables:

- `check_argv`: the exact argv the executor would run (after the policy's normalisation), read
  the way the program itself reads it and independent of what the policy calls its flags;
- `policy_violations`: a policy document's rules that try to allow one of these forms, so that
  `steadfast policy check` refuses them with file:line instead of the gate surprising an admin.

The gate always runs `check_argv`; `policy_violations` only makes the mistake visible early.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policy.jq import find_problem

READ_METHODS = frozenset({"GET", "HEAD"})

_KUBECTL_WORDS = (
    "delete edit patch apply replace create scale autoscale expose cordon uncordon drain "
    "taint exec attach cp port-forward proxy debug run set"
).split()
_VAULT_WORDS = "write delete put patch destroy undelete rollback login unwrap".split()

# (program, words in order) -> what kind of change it is; words match whole argv tokens
VERBS: dict[str, list[tuple[str, ...]]] = {
    "kubectl": [
        *[(w,) for w in _KUBECTL_WORDS],
        *[("rollout", w) for w in ("restart", "undo", "pause", "resume")],
        ("certificate",),
        ("auth", "reconcile"),
    ],
    "vault": [
        *[(w,) for w in _VAULT_WORDS],
        *[("token", w) for w in ("create", "renew", "revoke")],
        *[("lease", w) for w in ("renew", "revoke")],
        ("operator",),
        *[(s, w) for s in ("secrets", "auth") for w in ("enable", "disable", "move", "tune")],
    ],
}
# verbs that are read-only only together with a flag (kubectl label --list)
VERB_UNLESS_FLAG: dict[str, dict[str, str]] = {
    "kubectl": {"label": "--list", "annotate": "--list"},
}

_CURL_LONG = frozenset(
    """data data-raw data-binary data-ascii data-urlencode json form form-string upload-file
    output remote-name remote-name-all remote-header-name output-dir create-dirs cookie-jar
    dump-header trace trace-ascii trace-config stderr libcurl config etag-save hsts alt-svc
    post301 post302 post303 variable request write-out""".split()
)
_CURL_SHORT = {
    "d": "data",
    "F": "form",
    "T": "upload-file",
    "o": "output",
    "O": "remote-name",
    "J": "remote-header-name",
    "c": "cookie-jar",
    "D": "dump-header",
    "K": "config",
    "X": "request",
    "w": "write-out",
}
# curl's short options that take a value (the rest of the cluster, or the next argument)
_CURL_SHORT_VALUE = frozenset("AbcCdDeEFHKmoPQrtTuUwxXyYz")
_JQ_LONG = frozenset({"rawfile", "slurpfile", "from-file", "library-path"})
_JQ_SHORT = {"L": "library-path", "f": "from-file"}


@dataclass(frozen=True)
class Forbidden:
    """Why a form is refused whatever the policy says; `reason`/`hint` are for the model."""

    rule: str
    reason: str
    hint: str


def _mutation(program: str, what: str) -> Forbidden:
    hints = {
        "kubectl": "Inspect with kubectl get or kubectl describe instead, and recommend the "
        "change in the handoff.",
        "vault": "Use vault status, vault kv list or vault kv metadata get, and recommend the "
        "change in the handoff.",
    }
    return Forbidden(
        f"forbidden.{program}",
        f"`{program} {what}` changes state; this agent is read-only and no policy can allow it.",
        hints.get(program, "Use a read-only form."),
    )


def _subsequence(needle: Sequence[str], words: Sequence[str]) -> bool:
    it = iter(words)
    return all(any(w == n for w in it) for n in needle)


def check_argv(argv: Sequence[str]) -> Forbidden | None:
    """The refusal for one pipeline stage's argv, or None if nothing here forbids it."""
    if not argv:
        return None
    program, args = argv[0], list(argv[1:])
    if program in VERBS:
        return _check_verbs(program, args)
    if program == "curl":
        return _check_curl(args)
    if program == "jq":
        return _check_jq(args)
    return None


def _check_verbs(program: str, args: list[str]) -> Forbidden | None:
    # every bare word counts, wherever it stands: a policy that mis-declares which flags take
    # values must not be able to hide a verb as a flag's value (`--namespace get delete …`)
    words = [a for a in args if not a.startswith("-")]
    if program == "kubectl" and words[:2] == ["auth", "can-i"]:
        return None  # `auth can-i delete pods` asks about a verb; it runs nothing
    for verb in VERBS[program]:
        if _subsequence(verb, words):
            return _mutation(program, " ".join(verb))
    for word, flag in VERB_UNLESS_FLAG.get(program, {}).items():
        if word in words and flag not in args:
            return _mutation(program, word)
    return None


def _curl_refusal(option: str, value: str | None, args: list[str]) -> Forbidden | None:
    if option == "request":
        if value is not None and value.upper() in READ_METHODS:
            return None
        return Forbidden(
            "forbidden.curl.method",
            f"HTTP {value or '(missing)'} can change state; only GET and HEAD are ever allowed.",
            "Read the resource with GET (the default).",
        )
    if option == "output" and value == "/dev/null":
        return None
    if (
        option == "write-out"
        and value is not None
        and not (value.startswith("@") or re.search(r"%(output|stderr)\{", value))
    ):
        return None
    if option == "data-urlencode" and ("--get" in args or _has_short(args, "G")):
        return None  # with -G the data becomes the query string of a GET
    return Forbidden(
        "forbidden.curl.option",
        f"curl --{option} sends a body, uploads, or reads or writes local files; "
        "no policy can allow it.",
        "Make a plain GET; for a query string use -G with --data-urlencode 'key=value'.",
    )


def _has_short(args: list[str], letter: str) -> bool:
    return any(a.startswith("-") and not a.startswith("--") and letter in a[1:] for a in args)


def _curl_long(name: str) -> str | None:
    """The forbidden option `--name` means, counting curl's unambiguous-prefix spelling."""
    if name in _CURL_LONG:
        return name
    if len(name) >= 2 and any(full.startswith(name) for full in _CURL_LONG):
        return name
    return None


def _check_curl(args: list[str]) -> Forbidden | None:
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if token.startswith("--") and len(token) > 2:
            name, eq, inline = token[2:].partition("=")
            option = _curl_long(name)
            if option is not None:
                value = inline if eq else (args[i] if i < len(args) else None)
                if not eq:
                    i += 1
                refusal = _curl_refusal(option, value, args)
                if refusal is not None:
                    return refusal
        elif token.startswith("-") and len(token) > 1 and token != "--":
            for pos in range(1, len(token)):
                letter = token[pos]
                rest = token[pos + 1 :]
                if letter in _CURL_SHORT:
                    value = rest or (args[i] if i < len(args) else None)
                    refusal = _curl_refusal(_CURL_SHORT[letter], value, args)
                    if refusal is not None:
                        return refusal
                if letter in _CURL_SHORT_VALUE:
                    if not rest:
                        i += 1
                    break
    return None


def _check_jq(args: list[str]) -> Forbidden | None:
    positionals: list[str] = []
    i = 0
    only_positionals = False
    while i < len(args):
        token = args[i]
        i += 1
        if only_positionals or token == "-" or not token.startswith("-"):
            positionals.append(token)
        elif token == "--":
            only_positionals = True
        elif token.startswith("--"):
            name = token[2:].partition("=")[0]
            if name in _JQ_LONG:
                return _jq_files(f"--{name}")
            if name in ("arg", "argjson"):
                i += 2
            elif name == "indent":
                i += 1
        else:
            for letter in token[1:]:
                if letter in _JQ_SHORT:
                    return _jq_files(f"-{letter}")
    if positionals:
        problem = find_problem(positionals[0])
        if problem is not None:
            return Forbidden(
                "forbidden.jq.program",
                f"The jq program uses `{problem.word}`: {problem.why}. Only the piped input "
                "may be read.",
                "Filter the piped JSON with paths, select() and map(); pass values with "
                "--arg NAME VALUE.",
            )
    if len(positionals) > 1 and "--args" not in args and "--jsonargs" not in args:
        return _jq_files("file arguments")
    return None


def _jq_files(what: str) -> Forbidden:
    return Forbidden(
        "forbidden.jq.files",
        f"jq {what} reads local files or modules; only the piped input may be read.",
        "Pipe the command's output into jq and put the whole filter inline.",
    )


def check_method(method: str) -> Forbidden | None:
    if method.upper() in READ_METHODS:
        return None
    return Forbidden(
        "forbidden.http.method",
        f"HTTP {method} can change state; only GET and HEAD are ever allowed.",
        "Read the resource with GET instead.",
    )


# --- policy documents -------------------------------------------------------------------
Loc = tuple[str | int, ...]

_PROBE_METHODS = ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "post", "X")
_PROBE_FILES = ("/tmp/x", "x", "/etc/passwd", "-", "@x", "/dev/null/x")


def _nodes(
    node: Mapping[str, Any], words: tuple[str, ...], loc: Loc
) -> Iterator[tuple[tuple[str, ...], Loc, Mapping[str, Any]]]:
    yield words, loc, node
    for name, child in (node.get("subcommands") or {}).items():
        if isinstance(child, Mapping):
            yield from _nodes(child, (*words, str(name)), (*loc, "subcommands", name))


def _flag_names(name: str, flag: Mapping[str, Any]) -> list[str]:
    return [name, *(str(a) for a in flag.get("aliases") or [])]


def _only_matches(patterns: list[str], forbidden: Sequence[str]) -> bool:
    """Whether a non-empty allow list refuses every probe value (a proof would need regex
    equivalence; the gate enforces the real rule at run time anyway)."""
    if not patterns:
        return False
    try:
        return not any(re.fullmatch(p, v) for p in patterns for v in forbidden)
    except re.error:
        return False


def _curl_flag_problem(
    names: list[str], flag: Mapping[str, Any], requires: list[str]
) -> str | None:
    for spelled in names:
        options: list[str] = []
        if spelled.startswith("--"):
            option = _curl_long(spelled[2:])
            options = [option] if option else []
        else:
            options = [_CURL_SHORT[c] for c in spelled[1:] if c in _CURL_SHORT]
        for option in options:
            allow = [str(p) for p in flag.get("allow") or []]
            if option == "request" and _only_matches(allow, _PROBE_METHODS):
                continue
            if option == "output" and _only_matches(allow, _PROBE_FILES):
                continue
            if option == "write-out":
                continue  # judged on its value at run time
            if option == "data-urlencode" and "--get" in requires:
                continue
            return f"allows curl --{option}, which sends a body or touches local files"
    return None


def policy_violations(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """Rules in a (schema-valid) policy document that try to allow a forbidden form, each with
    the location of the offending key."""
    problems: list[tuple[Loc, str]] = []
    programs = (data.get("commands") or {}).get("programs") or {}
    for program, spec in programs.items():
        if not isinstance(spec, Mapping):
            continue
        base: Loc = ("commands", "programs", program)
        for words, loc, node in _nodes(spec, (), base):
            problems += _node_problems(str(program), words, loc, node)
    methods = (data.get("http") or {}).get("methods") or []
    for index, method in enumerate(methods):
        if check_method(str(method)) is not None:
            problems.append(
                (
                    ("http", "methods", index),
                    f"HTTP {method} can change state; only GET and HEAD can be allowed",
                )
            )
    return problems


def _node_problems(
    program: str, words: tuple[str, ...], loc: Loc, node: Mapping[str, Any]
) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    for verb in VERBS.get(program, []):
        if words and _subsequence(verb, words) and words[-1] == verb[-1]:
            problems.append((loc, f"allows `{program} {' '.join(verb)}`, which changes state"))
    for word, flag in VERB_UNLESS_FLAG.get(program, {}).items():
        if words and words[-1] == word and flag not in (node.get("require_flags") or []):
            problems.append(
                (loc, f"allows `{program} {word}` without requiring {flag}, which changes state")
            )
    flags = node.get("flags") or {}
    for name, flag in flags.items():
        if not isinstance(flag, Mapping):
            continue
        names = _flag_names(str(name), flag)
        problem = None
        if program == "curl":
            problem = _curl_flag_problem(names, flag, [str(r) for r in flag.get("requires") or []])
        elif program == "jq":
            bad = [
                n
                for n in names
                if n.lstrip("-") in _JQ_LONG
                or (not n.startswith("--") and any(c in _JQ_SHORT for c in n[1:]))
            ]
            problem = f"allows jq {bad[0]}, which reads local files" if bad else None
        if problem is not None:
            problems.append(((*loc, "flags", name), problem))
    return problems
