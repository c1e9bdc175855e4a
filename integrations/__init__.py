"""Vault (hvac), Kubernetes (official client), platform HTTP (httpx) and log stores.
Every call returns `Ok(value)` or `Degraded(...)`; nothing raises into the agent loop."""
