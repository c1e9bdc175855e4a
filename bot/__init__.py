"""Steadfast: the Slack app, job store, worker, agent loop, handoff rendering and CLI."""

__version__ = "0.1.0"
