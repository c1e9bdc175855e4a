"""Leased workers: claim jobs, run a `JobHandler` under a fenced context, heartbeat, reap."""

from bot.worker.handlers import build_handler
from bot.worker.worker import Worker

__all__ = ["Worker", "build_handler"]
