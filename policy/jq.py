"""Read a jq program far enough to find what reaches outside stdin: modules and the host.

jq can load modules (`import`, `include`, with `{search: DIR}` pointing anywhere) and read the
host (`env`, `$ENV`, `input_filename`, `$__loc__`, the library search list). None of that is
needed to filter a command's output, so a program naming any of them is refused. The scan
tokenises strings (with `\\(…)` interpolation, which is code again) so that a word inside a
string literal neither triggers a refusal nor hides one.
"""

from __future__ import annotations

from dataclasses import dataclass

# identifiers a filter never needs; each reads files, modules or the environment
REFUSED_WORDS = frozenset(
    {
        "import",
        "include",
        "module",
        "modulemeta",
        "env",
        "ENV",
        "input_filename",
        "__loc__",
        "get_search_list",
        "get_jq_origin",
        "get_prog_origin",
        "__prog_args",
    }
)
_REFUSED_VARIABLES = frozenset({"ENV", "__loc__", "__prog_args"})
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT = _IDENT_START | frozenset("0123456789")


@dataclass(frozen=True)
class JqProblem:
    word: str
    why: str


def _ident_end(program: str, i: int) -> int:
    j = i
    while j < len(program) and program[j] in _IDENT:
        j += 1
    return j


def _is_field(program: str, i: int) -> bool:
    """`.env` is a field access: a single dot right before the name (not `..`)."""
    return i >= 1 and program[i - 1] == "." and not (i >= 2 and program[i - 2] == ".")


def _is_variable(program: str, i: int) -> bool:
    k = i - 1
    while k >= 0 and program[k] in " \t":
        k -= 1
    return k >= 0 and program[k] == "$"


def _is_key(program: str, j: int) -> bool:
    """`{env: 1}`: a name followed by `:` (but not `::`) is an object key."""
    k = j
    while k < len(program) and program[k] in " \t":
        k += 1
    return program[k : k + 1] == ":" and program[k : k + 2] != "::"


def find_problem(program: str) -> JqProblem | None:
    """The first module or host access in `program`, or None. Unterminated strings are a
    problem too: jq would refuse them, and a scan that lost track of quotes proves nothing."""
    # stack of open interpolations: each entry counts parentheses opened inside it
    interpolations: list[int] = []
    in_string = False
    i = 0
    n = len(program)
    while i < n:
        ch = program[i]
        if in_string:
            if ch == "\\":
                if program[i + 1 : i + 2] == "(":
                    interpolations.append(0)
                    in_string = False
                    i += 2
                    continue
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
            continue
        if ch == '"':
            in_string = True
        elif ch == "(":
            if interpolations:
                interpolations[-1] += 1
        elif ch == ")":
            if interpolations:
                if interpolations[-1] == 0:
                    interpolations.pop()
                    in_string = True
                else:
                    interpolations[-1] -= 1
        elif ch in _IDENT_START and not (i > 0 and program[i - 1] in _IDENT):
            j = _ident_end(program, i)
            word = program[i:j]
            if _is_variable(program, i):
                refused = word in _REFUSED_VARIABLES  # `$env` is the caller's own --arg
            else:
                refused = word in REFUSED_WORDS
                refused = refused and not _is_field(program, i) and not _is_key(program, j)
            if refused:
                return JqProblem(word, _why(word))
            i = j
            continue
        i += 1
    if in_string or interpolations:
        return JqProblem('"', "the program has an unterminated string")
    return None


def _why(word: str) -> str:
    if word in ("import", "include", "module", "modulemeta", "get_search_list"):
        return "jq modules load files from the host"
    if word in ("env", "ENV"):
        return "the environment is not part of the command's output"
    return "it reveals paths on the host"
