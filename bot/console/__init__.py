"""The trace console: a read-only web view of a job's event log, opened from the Slack handoff
with a signed, expiring link (docs/console.md)."""
