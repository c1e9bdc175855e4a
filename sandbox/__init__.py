"""The command gate and the executor: read-only by construction. The policy they judge
against lives in `policy/`.

shell.py     refuse shell syntax; split a pipeline into argv with shlex
argv.py      match argv against a program's rules; normalise flags
netcheck.py  where HTTP may go (hosts, ports, literal IP forms, metadata endpoints)
gate.py      `Gate` and `Decision`: commands and structured tools
executor.py  `Executor`: run an allowed decision (no shell, clean env, bwrap when present)
bwrap.py     the allowlisted file view a command gets under bwrap
runner.py    the runner: judge again and run commands for the worker, away from its secrets
runner_protocol.py  the worker ↔ runner socket protocol (length-prefixed JSON)
errors.py    `SandboxError` and subclasses
"""
