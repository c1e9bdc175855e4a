#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml: exact versions with sha256 hashes, resolved for
# Python 3.11 on every platform. requirements.lock is what the image installs; the dev lock
# (runtime + test tools) is what `make` and CI install, constrained to the same runtime pins.
# Needs uv (https://docs.astral.sh/uv/; `pip install uv`). Run after changing dependencies in
# pyproject.toml, commit both files; tests/test_lock.py checks they cover pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-uv}"
common=(--generate-hashes --universal --python-version 3.11 --custom-compile-command "scripts/lock.sh" --quiet)
"$UV" pip compile pyproject.toml "${common[@]}" ${LOCK_UPGRADE:+--upgrade} -o requirements.lock
"$UV" pip compile pyproject.toml --extra dev -c requirements.lock "${common[@]}" -o requirements-dev.lock
