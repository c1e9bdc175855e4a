"""What every command shares: settings from the environment, the store, output, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import SecretStr, ValidationError
from rich.console import Console

from bot.errors import SteadfastError
from bot.settings import Settings
from core.logfilter import configure_logging
from core.scrubber import Scrubber


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


def process_scrubber(settings: Settings) -> Scrubber:
    """The process's one scrubber, knowing every credential in the settings, with logging
    set up to pass each record through it (third-party loggers held at WARNING)."""
    scrubber = Scrubber()
    for name, value in settings:
        if isinstance(value, SecretStr):
            scrubber.register(name, value.get_secret_value())
    configure_logging(settings.log_level, scrubber.scrub, log_format=settings.log_format)
    return scrubber
