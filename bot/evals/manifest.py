"""What an eval run was asked to do, kept beside its store so `--resume RUN` can finish it
with nothing else on the command line: `STATE_DIR/runs/RUN.json` (and, by default, the
run's SQLite store `STATE_DIR/runs/RUN.db`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.evals.model import EvalError, check_run_id

STATE_DIR = Path(".cache/evals")
_HIDDEN = "***"


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str
    cases: list[str] = Field(min_length=1, description="case names, in run order")
    cases_dir: str
    repeat: int = Field(ge=1)
    model: str | None = None  # None: the settings' default
    scripted: bool  # each case's scripted model answered, not a real one
    # None: the default file beside this manifest. A URL with a password is kept with the
    # password hidden, and --resume then needs --database again.
    database: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def same_run(self, other: Manifest) -> bool:
        keys = ("cases", "cases_dir", "repeat", "model", "scripted")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


def runs_dir(state_dir: Path) -> Path:
    return state_dir / "runs"


def manifest_path(state_dir: Path, run_id: str) -> Path:
    return runs_dir(state_dir) / f"{check_run_id(run_id)}.json"


def grades_path(state_dir: Path, run_id: str) -> Path:
    return runs_dir(state_dir) / f"{check_run_id(run_id)}.grades.json"


def default_database(state_dir: Path, run_id: str) -> str:
    return f"sqlite:///{(runs_dir(state_dir) / f'{check_run_id(run_id)}.db').resolve()}"


def storable_url(url: str) -> str:
    """`url` as the manifest may keep it: never with a password."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise EvalError(f"--database {url!r} is not a database URL: {exc}") from exc
    return parsed.render_as_string(hide_password=True) if parsed.password else url


def database_for(manifest: Manifest, state_dir: Path, given: str | None) -> str:
    """The store a run lives in: `--database` when given, else the one it started with."""
    if given:
        return given
    if manifest.database is None:
        return default_database(state_dir, manifest.run_id)
    if _HIDDEN in manifest.database:
        raise EvalError(
            f"eval run {manifest.run_id} lives in a database whose password is not kept "
            f"({manifest.database}): pass --database again"
        )
    return manifest.database


def load(state_dir: Path, run_id: str) -> Manifest:
    path = manifest_path(state_dir, run_id)
    if not path.is_file():
        known = sorted(p.stem for p in runs_dir(state_dir).glob("*.json"))
        hint = f"; runs there: {', '.join(known[-5:])}" if known else ""
        raise EvalError(f"no eval run {run_id} in {runs_dir(state_dir)}{hint}")
    try:
        return Manifest.model_validate_json(path.read_text())
    except (OSError, ValidationError) as exc:
        raise EvalError(f"cannot read eval run {path}: {exc}") from exc


def save(state_dir: Path, manifest: Manifest) -> Path:
    """Write the manifest, refusing to change a run: the same run id must mean the same
    cases, repeat and model, or a resumed run would score a different question."""
    path = manifest_path(state_dir, manifest.run_id)
    if path.is_file():
        existing = load(state_dir, manifest.run_id)
        if not existing.same_run(manifest):
            raise EvalError(
                f"eval run {manifest.run_id} was started with other cases, repeat or model "
                f"({', '.join(existing.cases)} x{existing.repeat}, model "
                f"{existing.model or 'default'}{', scripted' if existing.scripted else ''}): "
                f"finish it with steadfast eval --resume {manifest.run_id}, or pick a new run id"
            )
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(manifest.model_dump_json(indent=2) + "\n")
    tmp.replace(path)  # a crash leaves the old manifest or the new one, never half of one
    return path
