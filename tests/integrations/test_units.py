"""Scrubber, Secret, CircuitBreaker and retry behaviour on their own."""

from __future__ import annotations

import base64
import pickle
from dataclasses import dataclass

import pytest

from core.scrubber import Scrubber
from core.secret import Secret
from integrations.breaker import BreakerState, CircuitBreaker
from integrations.errors import BadRequest, Unavailable
from integrations.guard import Guard
from integrations.outcome import Degraded, Ok
from integrations.retry import RetryPolicy, call_with_retry


def test_registered_values_and_their_base64_are_redacted():
    s = Scrubber()
    s.register("db#password", "hunter2-very-secret")
    encoded = base64.b64encode(b"hunter2-very-secret").decode()
    out = s.scrub(f"pw hunter2-very-secret and {encoded}")
    assert "hunter2" not in out and encoded.rstrip("=") not in out
    assert out.count("[redacted:db#password]") == 2
    s.register("short", "abc")  # too short to scrub safely: ignored
    assert s.scrub("abc") == "abc"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("token xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
        ("vault hvs.CAESIJabcdefghijklmnopqrstuvwxyz", "hvs.CAESIJabcdefghijklmnopqrstuvwxyz"),
        ("legacy s.abcdefghijklmnopqrstuvwx here", "s.abcdefghijklmnopqrstuvwx"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig_nature-x", "eyJzdWIiOiIxMjM0In0"),
        ("aws AKIAIOSFODNN7EXAMPLE key", "AKIAIOSFODNN7EXAMPLE"),
        ("Authorization: Bearer abc.def-ghi_jkl", "abc.def-ghi_jkl"),
        ("password=s3cretvalue&user=x", "s3cretvalue"),
        ('{"api_key": "k-123456789"}', "k-123456789"),
        ("postgresql://user:p4ss@db/x", "p4ss"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----",
            "MIIEabc",
        ),
    ],
)
def test_common_token_shapes_are_redacted(text, secret):
    out = Scrubber().scrub(text)
    assert secret not in out and "[redacted:" in out


def test_scrub_obj_is_deep_and_leaves_secrets_opaque():
    s = Scrubber()
    s.register("k", "value-123456")

    @dataclass(frozen=True)
    class Box:
        text: str

    obj = {
        "a": ["value-123456", ("x", Box("value-123456"))],
        "value-123456": 1,
        "s": Secret("k", "v"),
    }
    out = s.scrub_obj(obj)
    assert "value-123456" not in repr(out)
    assert isinstance(out["s"], Secret) and out["a"][1][1] == Box("[redacted:k]")


def test_secret_shows_only_its_name():
    secret = Secret("tenants/acme/db#password", "topsecret-value")
    assert "topsecret" not in str(secret) + repr(secret) + f"{secret}" + str([secret])
    assert secret.reveal() == "topsecret-value"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_breaker_opens_after_threshold_and_half_opens_once():
    now = [0.0]
    b = CircuitBreaker("x", failure_threshold=3, reset_seconds=10, clock=lambda: now[0])
    for _ in range(2):
        b.record_failure("boom")
    assert b.state is BreakerState.CLOSED and b.allow()
    b.record_failure("boom")
    assert b.state is BreakerState.OPEN and not b.allow()
    now[0] = 10
    assert b.allow() and not b.allow()  # exactly one trial call in half-open
    b.record_success()
    assert b.state is BreakerState.CLOSED and b.allow()


def test_retry_only_retryable_errors_and_honour_retry_after():
    calls: list[int] = []
    slept: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Unavailable("busy", retry_after=2.0)
        return "ok"

    policy = RetryPolicy(attempts=3, max_retry_after=1.5)
    assert call_with_retry(flaky, policy, sleep=slept.append) == "ok"
    assert slept == [1.5, 1.5]  # capped
    calls.clear()

    def bad() -> str:
        calls.append(1)
        raise BadRequest("no")

    with pytest.raises(BadRequest):
        call_with_retry(bad, policy, sleep=slept.append)
    assert len(calls) == 1


def test_guard_never_raises_even_on_a_bug():
    scrubber = Scrubber()
    scrubber.register("k", "sekrit-value-1")
    guard = Guard("kubernetes", scrubber, retry=RetryPolicy(attempts=1))

    def buggy() -> None:
        raise KeyError("sekrit-value-1")

    outcome = guard.call("listing pods", buggy)
    assert isinstance(outcome, Degraded) and "unexpected error" in outcome.reason
    assert "sekrit-value-1" not in outcome.reason
    assert isinstance(guard.call("ok", lambda: {"x": "sekrit-value-1"}), Ok)
