"""The `bot` package's exceptions.

    SteadfastError
    ├── ConfigError          settings or environment cannot work; the message names the variable
    ├── StoreError           the database refused or is unreachable
    │   └── MigrationError
    ├── JobNotFound          no job with that id
    ├── IllegalTransition    the operator asked for a move the lifecycle forbids
    ├── DuplicateJob         (internal) a submit raced with another submit of the same key
    ├── LeaseLost            this worker no longer owns the job: stop, write nothing more
    └── StopRequested        the job must stop at this step boundary (pause, cancel, shutdown)

The CLI prints `str(error)` and exits 1 for any of these.
"""

from __future__ import annotations


class SteadfastError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(SteadfastError):
    pass


class StoreError(SteadfastError):
    pass


class MigrationError(StoreError):
    pass


class JobNotFound(SteadfastError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}; list jobs with `steadfast jobs`")
        self.job_id = job_id


class IllegalTransition(SteadfastError):
    def __init__(self, job_id: str, status: str, action: str) -> None:
        super().__init__(f"cannot {action} job {job_id}: it is {status}")
        self.job_id = job_id
        self.status = status
        self.action = action


class NotWaiting(SteadfastError):
    """A human reply (answer, approval) for a job that is not waiting for that kind of reply."""


class LeaseLost(SteadfastError):
    def __init__(self, job_id: str, fence: int) -> None:
        super().__init__(
            f"lease on job {job_id} (fence {fence}) was lost: another worker owns it now; "
            "this worker stops writing"
        )
        self.job_id = job_id
        self.fence = fence


class StopRequested(SteadfastError):
    """Raised at a step boundary; `reason` is 'pause', 'cancel' or 'shutdown'."""

    def __init__(self, job_id: str, reason: str) -> None:
        super().__init__(f"job {job_id} stops at this step boundary: {reason}")
        self.job_id = job_id
        self.reason = reason
