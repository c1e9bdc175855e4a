"""The handoff: what the agent concludes, and how it is shown (Block Kit, plain text)."""
