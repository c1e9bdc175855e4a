"""Offline, real-HTTP stand-ins for Slack, Anthropic, Vault, the Kubernetes API, a platform API
and a Loki-compatible log store. Used by the demo, the tests and the benchmarks."""
