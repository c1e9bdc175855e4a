"""Split a proposed command line into pipeline stages of argv, refusing all shell syntax.

Nothing here ever reaches a shell: the scan only decides whether the text means the same to
a POSIX shell and to `shlex`, so that what the model meant is what the gate judges. Anything a
shell would expand, redirect, chain or run in the background is refused with a reason.
"""

from __future__ import annotations

import shlex
import unicodedata
from dataclasses import dataclass

from sandbox.denial import Denied

MERGE_STDERR = "2>&1"
# Caps checked before any parsing: shlex is quadratic in the length of a word, and every
# stage is a process. Real investigations stay far below both.
MAX_COMMAND_CHARS = 8_192
MAX_STAGES = 8
_WORD_END = " \t|"

_ONE_COMMAND = "Run one command per call (a pipeline into text filters is fine)."
_NO_EXPANSION = (
    "Write the literal value instead; nothing is expanded because no shell runs the command."
)


@dataclass(frozen=True)
class Stage:
    argv: list[str]
    merge_stderr: bool


def split_pipeline(command: str) -> list[Stage]:
    """Stages of `a | b | c` as argv lists, or raise `Denied`."""
    if not command.strip():
        raise Denied("shell.empty", "The command is empty.", "Propose one read-only command.")
    if len(command) > MAX_COMMAND_CHARS:
        raise Denied(
            "shell.too_long",
            f"The command is {len(command):,} characters; at most {MAX_COMMAND_CHARS:,} are "
            "accepted.",
            "Shorten it: select with kubectl -l/--field-selector or jq paths instead of "
            "listing many values inline, and split the work into several calls.",
        )
    _check_characters(command)
    pieces, merges = _scan(command)
    stages: list[Stage] = []
    for raw, merge_count in zip(pieces, merges, strict=True):
        try:
            argv = shlex.split(raw, posix=True)
        except ValueError as exc:  # the scan already catches unbalanced quotes; belt and braces
            raise Denied("shell.quote", f"The command cannot be split: {exc}.", "") from exc
        if argv.count(MERGE_STDERR) != merge_count:
            raise Denied(
                "shell.redirect",
                "A quoted '2>&1' is ambiguous with the stderr redirection.",
                "Leave 2>&1 unquoted at the end of the stage, or drop it.",
            )
        argv = [a for a in argv if a != MERGE_STDERR]
        if not argv:
            raise Denied(
                "shell.empty_stage",
                "A pipeline stage is empty.",
                "Write `command | filter`, with a program on each side of every '|'.",
            )
        stages.append(Stage(argv=argv, merge_stderr=merge_count > 0))
    return stages


def _check_characters(command: str) -> None:
    for ch in command:
        if ch in "\n\r":
            raise Denied(
                "shell.newline",
                "The command contains a line break, which a shell treats as a second command.",
                _ONE_COMMAND,
            )
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Co", "Cs", "Cn") and ch != "\t":
            raise Denied(
                "shell.control_char",
                f"The command contains an invisible or control character (U+{ord(ch):04X}).",
                "Retype the command in plain ASCII.",
            )
        if category in ("Zs", "Zl", "Zp") and ch != " ":
            raise Denied(
                "shell.unicode_space",
                f"The command contains a non-ASCII space (U+{ord(ch):04X}).",
                "Separate arguments with plain ASCII spaces.",
            )


def _scan(command: str) -> tuple[list[str], list[int]]:
    """Return the raw text of each stage and how many unquoted `2>&1` each has."""
    pieces: list[str] = []
    merges: list[int] = []
    start = 0
    merge_count = 0
    quote = ""
    word = ""  # unquoted text of the current word so far (for `2>&1`, `#`, `~`)
    word_started = False
    i = 0
    n = len(command)
    while i < n:
        ch = command[i]
        if quote == "'":
            if ch == "'":
                quote = ""
            i += 1
            continue
        if quote == '"':
            if ch == '"':
                quote = ""
            elif ch == "$":
                _dollar(command, i)
            elif ch == "`":
                raise Denied(
                    "shell.backtick",
                    "Backticks are command substitution, even inside double quotes.",
                    "Run each command separately and use its output in your next call.",
                )
            elif ch == "\\" and i + 1 < n and command[i + 1] in '"\\':
                i += 1
            i += 1
            continue
        if ch in " \t":
            word, word_started = "", False
            i += 1
            continue
        at_word_start = not word_started
        word_started = True
        if ch in "'\"":
            quote = ch
            word += "\x00"  # quoted text makes the word something other than 2>&1
        elif ch == "|":
            nxt = command[i + 1 : i + 2]
            if nxt == "|":
                raise Denied(
                    "shell.chain",
                    "'||' runs a second command when the first fails; chaining is not allowed.",
                    _ONE_COMMAND,
                )
            if nxt == "&":
                raise Denied(
                    "shell.redirect", "'|&' is a shell redirection.", "Use `2>&1 |` instead."
                )
            pieces.append(command[start:i])
            merges.append(merge_count)
            if len(pieces) >= MAX_STAGES:
                raise Denied(
                    "shell.too_many_stages",
                    f"The pipeline has more than {MAX_STAGES} stages.",
                    f"Use at most {MAX_STAGES} stages: one read command and a few filters "
                    "(grep -E 'a|b' replaces a chain of greps).",
                )
            start, merge_count, word, word_started = i + 1, 0, "", False
        elif (
            ch == ">"
            and word == "2"
            and command[i + 1 : i + 3] == "&1"
            and (i + 3 == n or command[i + 3] in _WORD_END)
        ):
            merge_count += 1
            word = MERGE_STDERR
            i += 3
            continue
        elif ch in "<>":
            _redirect(command, i)
        elif ch == "&":
            if command[i + 1 : i + 2] == "&":
                raise Denied(
                    "shell.chain",
                    "'&&' runs a second command; chaining is not allowed.",
                    _ONE_COMMAND,
                )
            raise Denied(
                "shell.background",
                "'&' would run the command in the background or redirect it.",
                "Drop the '&'; every command runs to completion with a timeout.",
            )
        elif ch == ";":
            raise Denied(
                "shell.chain", "';' separates commands; chaining is not allowed.", _ONE_COMMAND
            )
        elif ch == "`":
            raise Denied(
                "shell.backtick",
                "Backticks are command substitution.",
                "Run each command separately and use its output in your next call.",
            )
        elif ch == "$":
            _dollar(command, i)
        elif ch in "()":
            raise Denied(
                "shell.subshell",
                "Parentheses start a subshell or a function definition.",
                _ONE_COMMAND + " Quote arguments that contain parentheses.",
            )
        elif ch in "{}":
            raise Denied(
                "shell.brace",
                "Unquoted braces are shell brace expansion or a command group.",
                "Quote the argument in single quotes, e.g. -o jsonpath='{.items[*].metadata.name}'.",
            )
        elif ch in "*?[":
            raise Denied(
                "shell.glob",
                f"The unquoted '{ch}' is a shell wildcard that would match local files.",
                "Quote the argument in single quotes if the character is meant literally.",
            )
        elif ch == "\\":
            raise Denied(
                "shell.backslash",
                "Unquoted backslash escapes are not accepted.",
                "Put the argument in single quotes instead of escaping characters.",
            )
        elif ch == "#" and at_word_start:
            raise Denied(
                "shell.comment",
                "An unquoted '#' starts a shell comment; the rest of the line would be ignored.",
                "Remove the comment, or quote the '#' if it is part of an argument.",
            )
        elif ch == "~" and at_word_start:
            raise Denied(
                "shell.tilde",
                "An unquoted '~' is expanded to a home directory by a shell.",
                "Name the resource directly; the sandbox has no home directory worth reading.",
            )
        else:
            word += ch
        i += 1
    if quote:
        raise Denied(
            "shell.quote",
            f"The command has an unterminated {quote} quote.",
            "Close every quote; use single quotes around arguments with special characters.",
        )
    pieces.append(command[start:])
    merges.append(merge_count)
    return pieces, merges


def _dollar(command: str, i: int) -> None:
    nxt = command[i + 1 : i + 2]
    if nxt == "(":
        raise Denied(
            "shell.substitution",
            "'$(…)' is command substitution (or arithmetic expansion).",
            "Run each command separately and use its output in your next call.",
        )
    if nxt == "'":
        raise Denied(
            "shell.ansi_c", "$'…' is ANSI-C quoting, which hides characters.", _NO_EXPANSION
        )
    if nxt == "{":
        raise Denied("shell.expansion", "'${…}' is parameter expansion.", _NO_EXPANSION)
    if command[i + 1 : i + 4] == "IFS":
        raise Denied(
            "shell.ifs", "$IFS is the shell's field separator.", "Separate arguments with spaces."
        )
    raise Denied(
        "shell.expansion",
        "'$' introduces shell expansion (variables are not available to the agent).",
        _NO_EXPANSION + " Use single quotes for a literal '$' (e.g. in a jq filter).",
    )


def _redirect(command: str, i: int) -> None:
    ch, nxt = command[i], command[i + 1 : i + 2]
    if nxt == "(":
        raise Denied(
            "shell.process_substitution",
            f"'{ch}(…)' is process substitution.",
            "Run each command separately and use its output in your next call.",
        )
    if ch == "<" and nxt == "<":
        raise Denied(
            "shell.heredoc",
            "Heredocs and here-strings ('<<', '<<<') feed text to a command; not allowed.",
            "Put the text in an argument, or filter the output of a read command with grep.",
        )
    if ch == "<":
        raise Denied(
            "shell.redirect",
            "Input redirection '<' reads a local file; not allowed.",
            "Read cluster or service state with a read command instead of local files.",
        )
    raise Denied(
        "shell.redirect",
        "Output redirection writes to a file; only '2>&1' is allowed.",
        "Drop the redirection; stdout and stderr are both captured and returned to you.",
    )
