"""Paging fixtures: the PagerDuty and Opsgenie emulators and a `Pager` aimed at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from core.retry import RetryPolicy
from emulators.opsgenie import OpsgenieEmulator
from emulators.pagerduty import PagerDutyEmulator
from integrations.paging import Pager, PagingConfig

PD_KEY = "R0UTINGKEY0000000000000000000001"  # 32 characters, as PagerDuty's are
OG_KEY = "0a1b2c3d-0000-4000-8000-00000000og01"
OG_READ_ONLY = "0a1b2c3d-0000-4000-8000-0000000000ro"
KEYS = {"oncall-pd": SecretStr(PD_KEY), "oncall-og": SecretStr(OG_KEY)}


@pytest.fixture
def pagerduty() -> Iterator[PagerDutyEmulator]:
    with PagerDutyEmulator({"pagerduty": {"routing_keys": [PD_KEY]}}) as emulator:
        yield emulator


@pytest.fixture
def opsgenie() -> Iterator[OpsgenieEmulator]:
    scenario = {"opsgenie": {"api_keys": [OG_KEY], "read_only_keys": [OG_READ_ONLY]}}
    with OpsgenieEmulator(scenario) as emulator:
        yield emulator


class Sleeps(list[float]):
    """Records the backoff the client asked for instead of waiting it out."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


_OPEN: list[Pager] = []


@pytest.fixture(autouse=True)
def _close_pagers() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def make_pager(
    pagerduty: PagerDutyEmulator,
    opsgenie: OpsgenieEmulator,
    sleeps: Sleeps | None = None,
    **keys: SecretStr,
) -> Pager:
    """A Pager aimed at the emulators; closed when the test ends."""
    config = PagingConfig(
        keys={**KEYS, **keys},
        pagerduty_url=pagerduty.url,
        opsgenie_url=opsgenie.url,
        timeout_seconds=10,
        retry=RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=0.05, max_retry_after=5),
    )
    pager = Pager(config, sleep=sleeps if sleeps is not None else Sleeps())
    _OPEN.append(pager)
    return pager
