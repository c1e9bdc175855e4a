"""The scrubber remembers results for short texts (they recur on every agent step); a
remembered result must never predate a value registered or learned after it."""

from __future__ import annotations

from core.scrubber import Scrubber


def test_a_text_scrubbed_before_its_secret_was_registered_is_redacted_after() -> None:
    scrubber = Scrubber()
    text = "db password is plumtree-42-velvet"
    assert scrubber.scrub(text) == text  # nothing known, nothing shaped like a secret
    scrubber.register("db-password", "plumtree-42-velvet")
    assert scrubber.scrub(text) == "db password is [redacted:db-password]"


def test_repeated_texts_give_the_same_answer() -> None:
    scrubber = Scrubber()
    scrubber.register("api", "sk-live-0123456789abcdef")
    for _ in range(3):
        assert scrubber.scrub("key sk-live-0123456789abcdef") == "key [redacted:api]"
        assert scrubber.scrub("type") == "type"
