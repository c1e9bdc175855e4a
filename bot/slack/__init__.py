"""The Slack front door (Bolt app, Socket Mode and HTTP mode) and the outbox sender."""
