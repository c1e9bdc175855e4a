"""The `commands` section of a policy: per-program rules the gate matches argv against.

Allowlist by construction: a program, subcommand or flag that is not named here is denied.
`deny_*` entries exist only to give the model a better reason and hint than "unknown".
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_regexes(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return patterns


class Refusal(_Strict):
    """Why something is refused, written for the model, and the read-only way instead."""

    reason: str = Field(description="what was refused and why")
    hint: str = Field(default="", description="the read-only way to get the same information")


class ValueRule(_Strict):
    """A value refused when it matches `pattern` (a regular expression, full match)."""

    pattern: str
    reason: str
    hint: str = ""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        check_regexes([value])
        return value


class FlagSpec(_Strict):
    """One allowed flag. The key is its canonical spelling (`--namespace`, `-format`)."""

    aliases: list[str] = Field(default_factory=list, description="other spellings, e.g. ['-n']")
    value: Literal["none", "required", "optional"] = Field(
        default="none",
        description="none: a switch; required: takes a value; optional: only as --f=v",
    )
    arity: int = Field(
        default=1, ge=1, le=4, description="values taken when value=required (jq --arg: 2)"
    )
    allow: list[str] = Field(
        default_factory=list, description="regexes (full match) a value must match; empty: any"
    )
    deny: list[ValueRule] = Field(default_factory=list, description="values refused, with reason")
    requires: list[str] = Field(
        default_factory=list, description="canonical flags that must also be present"
    )
    instead_of_argument: bool = Field(
        default=False,
        description="the flag supplies what the first argument would (grep -e PATTERN): when "
        "used, one argument fewer is accepted and none is required",
    )
    kind: Literal["namespace", "all_namespaces"] | None = Field(
        default=None,
        description="tenant check: namespace values must be the tenant's; all_namespaces "
        "is refused for a tenant",
    )
    description: str = ""

    @field_validator("allow")
    @classmethod
    def _allow_compiles(cls, value: list[str]) -> list[str]:
        return check_regexes(value)


class Positionals(_Strict):
    """Rules for the non-flag arguments of a (sub)command without further subcommands."""

    min: int = Field(default=0, ge=0)
    max: int | None = Field(default=None, ge=0, description="null: any number")
    allow: list[str] = Field(default_factory=list, description="regexes (full match); empty: any")
    deny: list[ValueRule] = Field(default_factory=list)
    kind: Literal["url", "vault_path"] | None = Field(
        default=None, description="url: checked against `http`; vault_path: checked against `vault`"
    )

    @field_validator("allow")
    @classmethod
    def _allow_compiles(cls, value: list[str]) -> list[str]:
        return check_regexes(value)


class CommandSpec(_Strict):
    """A program or one of its subcommands. Flags are inherited by subcommands."""

    description: str = ""
    runnable: bool = Field(default=True, description="false: a subcommand must follow")
    flags: dict[str, FlagSpec] = Field(default_factory=dict)
    deny_flags: dict[str, Refusal] = Field(default_factory=dict)
    subcommands: dict[str, CommandSpec] = Field(default_factory=dict)
    deny_subcommands: dict[str, Refusal] = Field(default_factory=dict)
    unknown_subcommand: Refusal | None = Field(
        default=None, description="reason for unnamed subcommands"
    )
    require_flags: list[str] = Field(default_factory=list, description="all must be present")
    require_reason: Refusal | None = None
    positionals: Positionals = Field(default_factory=Positionals)

    @model_validator(mode="after")
    def _flag_names(self) -> CommandSpec:
        names = [*self.flags, *self.deny_flags]
        names += [a for f in self.flags.values() for a in f.aliases]
        for name in names:
            if not re.fullmatch(r"--?[A-Za-z0-9:][A-Za-z0-9._:-]*", name):
                raise ValueError(f"flag {name!r} must start with '-' or '--' and be plain ASCII")
        return self


class ProgramSpec(CommandSpec):
    """A program the agent may run, named bare (no path)."""

    role: Literal["source", "filter"] = Field(
        default="source",
        description="source: first pipeline stage only; filter: text filter, any stage",
    )
    flag_syntax: Literal["gnu", "go"] = Field(
        default="gnu",
        description="gnu: -abc clusters and --long; go: -name and --name are the same",
    )
    emit: Literal["separate", "equals"] = Field(
        default="separate", description="how normalised flags are written: '--f v' or '--f=v'"
    )
    short_equals: bool = Field(
        default=False, description="pflag style: '-o=json' means '-o json' (kubectl)"
    )
    number_flag: str | None = Field(
        default=None,
        description="canonical flag that a bare '-NUM' means (head -20 is head --lines 20)",
    )
    namespace_flag: str | None = Field(
        default=None,
        description="canonical flag added with the tenant's namespace when none is given",
    )


class CommandRules(_Strict):
    """Per-program rules; everything not named is denied."""

    programs: dict[str, ProgramSpec] = Field(default_factory=dict)
    deny_programs: dict[str, Refusal] = Field(
        default_factory=dict, description="refused programs with a reason (wrappers, shells, …)"
    )

    @model_validator(mode="after")
    def _bare_names(self) -> CommandRules:
        for name in [*self.programs, *self.deny_programs]:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", name):
                raise ValueError(f"program {name!r} must be a bare ASCII name without a path")
        return self


CommandSpec.model_rebuild()
