from __future__ import annotations

import pytest


@pytest.fixture
def max_attempts() -> int:
    return 3
