"""What every command shares: settings from the environment, the store, output, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from bot.errors import SteadfastError
from bot.settings import Settings


def load_settings(**overrides: Any) -> Settings:
    """The one place the environment is read."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        fail(f"invalid configuration: {exc}")


def fail(message: str, code: int = 1) -> NoReturn:
    Console(stderr=True, highlight=False).print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def errors_to_exit(code: int = 1) -> Iterator[None]:
    """Turn our own errors into a one-line message and an exit code; let bugs traceback."""
    try:
        yield
    except SteadfastError as exc:
        fail(str(exc), code)


def print_json(record: Any) -> None:
    sys.stdout.write(json.dumps(record, default=str, sort_keys=False) + "\n")
    sys.stdout.flush()


def console() -> Console:
    return Console(highlight=False)


Register = Callable[[typer.Typer], None]
