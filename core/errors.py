"""The one root of every exception Steadfast raises on purpose.

    SteadfastError                        core: the root; the CLI prints the message, exits 1
    ├── PolicyError                       policy: a policy file cannot be used (file:line:col)
    ├── SandboxError                      sandbox: the sandbox cannot do what was asked
    │   └── ExecutionRefused              the executor was handed something the gate did not allow
    ├── IntegrationError                  integrations: a dependency call failed (`retryable`)
    │   ├── NotConfigured, AccessDenied, NotFound, BadRequest
    │   ├── AuthError
    │   │   └── AuthExpired
    │   └── Unavailable
    ├── ConfigError                       bot: settings or environment cannot work
    ├── StoreError                        bot: the database refused or is unreachable
    │   └── MigrationError
    ├── JobNotFound, IllegalTransition, NotWaiting, LeaseLost, LeadershipLost, StopRequested
    └── AgentError                        bot.agent: the agent loop (model errors, crashes)

Each package draws its own subtree in its `errors.py`. A refusal by the gate is not an
exception (it is a `Decision`), and neither is a degraded dependency (a `Degraded` outcome).
"""

from __future__ import annotations


class SteadfastError(Exception):
    """Root of every error Steadfast raises on purpose; the message tells the fix."""
