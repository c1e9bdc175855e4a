"""Match one pipeline stage's argv against its program's rules, normalising flags.

Normalisation makes every spelling of a flag mean one thing before it is judged: `--f=v` and
`--f v`, clustered short flags (`-sSL`), unique long-option prefixes (`--kube` is
`--kubeconfig`), aliases (`-n` is `--namespace`). The argv that is executed is rebuilt from
the normalised form, so the program receives exactly the flags that were judged.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from policy.rules import CommandSpec, FlagSpec, Positionals, ProgramSpec, Refusal
from sandbox.denial import Denied


@dataclass(frozen=True)
class FlagUse:
    name: str
    values: tuple[str, ...]
    spec: FlagSpec


@dataclass
class Parsed:
    program: str
    spec: ProgramSpec
    path: list[str]
    node: CommandSpec
    flags: list[FlagUse] = field(default_factory=list)
    positionals: list[str] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)

    @property
    def rule(self) -> str:
        return " ".join(self.path)

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.flags)

    def values(self, name: str) -> list[str]:
        return [v for f in self.flags if f.name == name for v in f.values]


_Entry = tuple[str, FlagSpec | Refusal]


def parse(program: str, spec: ProgramSpec, args: list[str]) -> Parsed:
    parsed = Parsed(program=program, spec=spec, path=[program], node=spec, argv=[program])
    chain: list[CommandSpec] = [spec]
    table = _table(chain, spec.flag_syntax)
    at_leaf_args = False  # a positional was taken at the current node: no more subcommands
    only_positionals = False
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        _check_token(parsed, token)
        if only_positionals or token == "-" or not token.startswith("-"):
            node = parsed.node
            if not only_positionals and not at_leaf_args and _has_subcommands(node):
                child = _subcommand(parsed, node, token)
                parsed.path.append(token)
                parsed.node = child
                parsed.argv.append(token)
                chain.append(child)
                table = _table(chain, spec.flag_syntax)
                continue
            at_leaf_args = True
            parsed.positionals.append(token)
            parsed.argv.append(token)
            continue
        if token == "--":
            only_positionals = True
            parsed.argv.append(token)
            continue
        i = _flag(parsed, table, token, args, i)
    _finish(parsed)
    return parsed


def _check_token(parsed: Parsed, token: str) -> None:
    if token.startswith("-") and not token.isascii():
        raise Denied(
            f"{parsed.rule}.non_ascii_flag",
            f"The flag {token!r} contains non-ASCII characters.",
            "Type flags in plain ASCII.",
        )
    if token and not token[0].isascii():
        name = unicodedata.name(token[0], "")
        if any(word in name for word in ("DASH", "HYPHEN", "MINUS")):
            raise Denied(
                f"{parsed.rule}.lookalike_dash",
                f"The argument {token!r} starts with a look-alike dash ({name.lower()}).",
                "Type flags with the ASCII '-'.",
            )


def _has_subcommands(node: CommandSpec) -> bool:
    return bool(node.subcommands or node.deny_subcommands or not node.runnable)


def _subcommand(parsed: Parsed, node: CommandSpec, token: str) -> CommandSpec:
    where = parsed.rule
    if token in node.subcommands:
        return node.subcommands[token]
    refusal = node.deny_subcommands.get(token)
    if refusal is not None:
        raise Denied(f"{where} {token}", refusal.reason, refusal.hint)
    if node.unknown_subcommand is not None:
        raise Denied(
            f"{where}.unknown_subcommand",
            f"`{where} {token}`: {node.unknown_subcommand.reason}",
            node.unknown_subcommand.hint,
        )
    known = ", ".join(sorted(node.subcommands)) or "none"
    raise Denied(
        f"{where}.unknown_subcommand",
        f"`{where} {token}` is not an allowed subcommand.",
        f"Allowed subcommands of `{where}`: {known}.",
    )


def _key(name: str, syntax: str) -> str:
    return name.lstrip("-") if syntax == "go" else name


def _table(chain: list[CommandSpec], syntax: str) -> dict[str, _Entry]:
    table: dict[str, _Entry] = {}
    for node in chain:
        for name, refusal in node.deny_flags.items():
            table[_key(name, syntax)] = (name, refusal)
        for name, flag in node.flags.items():
            table[_key(name, syntax)] = (name, flag)
            for alias in flag.aliases:
                table[_key(alias, syntax)] = (name, flag)
    return table


def _resolve_long(parsed: Parsed, table: dict[str, _Entry], key: str, shown: str) -> _Entry:
    if key in table:
        return table[key]
    if not key.strip("-"):
        raise _unknown_flag(parsed, shown)
    long_keys = [k for k in table if len(k.lstrip("-")) > 1 and k.startswith(key)]
    canonicals = {table[k][0] for k in long_keys}
    if len(canonicals) == 1:
        return table[long_keys[0]]
    if len(canonicals) > 1:
        raise Denied(
            f"{parsed.rule}.ambiguous_flag",
            f"`{shown}` is an ambiguous abbreviation of {', '.join(sorted(canonicals))}.",
            "Spell the flag out in full.",
        )
    raise _unknown_flag(parsed, shown)


def _unknown_flag(parsed: Parsed, shown: str) -> Denied:
    allowed = sorted({n for node_flags in [parsed.node.flags] for n in node_flags})
    listing = f" Flags allowed here include: {', '.join(allowed[:25])}." if allowed else ""
    return Denied(
        f"{parsed.rule}.unknown_flag",
        f"`{parsed.rule}` does not allow the flag `{shown}` (only listed read-only flags are).",
        "Use a read-only form without it." + listing,
    )


def _flag(parsed: Parsed, table: dict[str, _Entry], token: str, args: list[str], i: int) -> int:
    syntax = parsed.spec.flag_syntax
    if syntax == "go" or token.startswith("--"):
        name, eq, inline = token.partition("=")
        canonical, entry = _resolve_long(parsed, table, _key(name, syntax), name)
        return _take(parsed, canonical, entry, token, inline if eq else None, args, i)
    if parsed.spec.number_flag and re.fullmatch(r"-[0-9]+", token):
        canonical, entry = _resolve_long(parsed, table, parsed.spec.number_flag, token)
        return _take(parsed, canonical, entry, token, token[1:], args, i)
    # a GNU cluster of short flags: -sSL, -n5, -ojson
    for pos in range(1, len(token)):
        short = "-" + token[pos]
        if token[pos] == "=" and pos > 1:
            raise Denied(
                f"{parsed.rule}.value",
                f"`{token[:pos]}` is a switch and takes no value (got {token}).",
                f"Write `{token[:pos]}` alone.",
            )
        if short not in table:
            raise _unknown_flag(parsed, short)
        canonical, entry = table[short]
        if isinstance(entry, FlagSpec) and entry.value != "none":
            rest = token[pos + 1 :]
            if parsed.spec.short_equals and rest.startswith("="):
                rest = rest[1:]
                if not rest:
                    raise Denied(
                        f"{parsed.rule} {canonical}.value",
                        f"`{short}=` has an empty value.",
                        f"Write `{short} VALUE`.",
                    )
            return _take(parsed, canonical, entry, short, rest or None, args, i)
        _take(parsed, canonical, entry, short, None, args, i)
    return i


def _take(
    parsed: Parsed,
    canonical: str,
    entry: FlagSpec | Refusal,
    shown: str,
    inline: str | None,
    args: list[str],
    i: int,
) -> int:
    where = f"{parsed.rule} {canonical}"
    if isinstance(entry, Refusal):
        raise Denied(where, entry.reason, entry.hint)
    values: list[str] = []
    if entry.value == "none":
        if inline is not None:
            raise Denied(
                f"{where}.value",
                f"`{canonical}` is a switch and takes no value (got {shown}).",
                f"Write `{canonical}` alone.",
            )
    elif entry.value == "optional":
        if inline is not None:
            values.append(inline)
    else:
        if inline is not None:
            values.append(inline)
        while len(values) < entry.arity:
            if i >= len(args):
                raise Denied(
                    f"{where}.value",
                    f"`{canonical}` needs a value.",
                    f"Write `{canonical} VALUE`.",
                )
            values.append(args[i])
            i += 1
    for value in values:
        _check_value(where, canonical, entry, value)
    parsed.flags.append(FlagUse(canonical, tuple(values), entry))
    parsed.argv.extend(_emit(parsed.spec, canonical, entry, values))
    return i


def _check_value(where: str, canonical: str, entry: FlagSpec, value: str) -> None:
    for rule in entry.deny:
        if re.fullmatch(rule.pattern, value):
            raise Denied(f"{where}.value", f"`{canonical} {value}`: {rule.reason}", rule.hint)
    if entry.allow and not any(re.fullmatch(p, value) for p in entry.allow):
        raise Denied(
            f"{where}.value",
            f"`{canonical} {value}` is not an allowed value.",
            f"Allowed values of {canonical} match: {', '.join(entry.allow)}.",
        )


def _emit(spec: ProgramSpec, canonical: str, entry: FlagSpec, values: list[str]) -> list[str]:
    if not values:
        return [canonical]
    if spec.flag_syntax == "go" or entry.value == "optional":
        return [f"{canonical}={values[0]}", *values[1:]]
    if spec.emit == "equals" and len(values) == 1:
        return [f"{canonical}={values[0]}"]
    return [canonical, *values]


def check_positionals(rule: str, spec: Positionals, values: list[str]) -> None:
    if len(values) < spec.min:
        raise Denied(
            f"{rule}.arguments",
            f"`{rule}` needs at least {spec.min} argument(s).",
            "Name what to inspect.",
        )
    if spec.max is not None and len(values) > spec.max:
        what = "no arguments" if spec.max == 0 else f"at most {spec.max} argument(s)"
        raise Denied(
            f"{rule}.arguments",
            f"`{rule}` takes {what} here (got {len(values)}); extra arguments could name files.",
            "Feed it through a pipe from a read command instead of naming files.",
        )
    for value in values:
        for deny in spec.deny:
            if re.fullmatch(deny.pattern, value):
                raise Denied(f"{rule}.argument", f"`{rule} {value}`: {deny.reason}", deny.hint)
        if spec.allow and not any(re.fullmatch(p, value) for p in spec.allow):
            raise Denied(
                f"{rule}.argument",
                f"`{rule}` does not accept the argument {value!r}.",
                f"Arguments must match: {', '.join(spec.allow)}.",
            )


def _finish(parsed: Parsed) -> None:
    node = parsed.node
    if not node.runnable:
        known = ", ".join(sorted(node.subcommands)) or "none"
        raise Denied(
            f"{parsed.rule}.incomplete",
            f"`{parsed.rule}` needs a subcommand.",
            f"Allowed subcommands: {known}.",
        )
    for required in node.require_flags:
        if not parsed.has(required):
            refusal = node.require_reason
            raise Denied(
                f"{parsed.rule}.requires",
                refusal.reason if refusal else f"`{parsed.rule}` is only allowed with {required}.",
                refusal.hint if refusal else f"Add {required}.",
            )
    for use in parsed.flags:
        for required in use.spec.requires:
            if not parsed.has(required):
                raise Denied(
                    f"{parsed.rule} {use.name}.requires",
                    f"`{use.name}` is only allowed together with `{required}`.",
                    f"Add `{required}`.",
                )
    positionals = node.positionals
    if any(use.spec.instead_of_argument for use in parsed.flags):
        # grep -e A -e B: the patterns came as flags, so an argument now would name a file
        fewer = None if positionals.max is None else max(positionals.max - 1, 0)
        positionals = positionals.model_copy(update={"min": 0, "max": fewer})
    check_positionals(parsed.rule, positionals, parsed.positionals)
