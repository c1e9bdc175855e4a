"""Console tokens: what each scope opens, and every way a token is refused."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.console.errors import AccessDenied
from bot.console.tokens import Grant, TokenSigner

SECRET = SecretStr("k" * 48)


def signer(now: float = 1_000_000.0) -> TokenSigner:
    return TokenSigner(SECRET, clock=lambda: now)


def test_a_job_token_opens_its_job_only() -> None:
    grant = signer().verify(signer().job_token("8e5b9e0437f9", "acme", 60))
    assert grant == Grant("job", "acme", "8e5b9e0437f9", 1_000_060)
    assert grant.opens_job("8e5b9e0437f9", "acme")
    assert not grant.opens_job("000000000000", "acme")
    assert not grant.opens_job("8e5b9e0437f9", "globex")  # the job moved? never cross tenants
    assert not grant.opens_tenant("acme")  # no job list from a handoff link


def test_a_tenant_token_opens_its_tenants_jobs_and_list() -> None:
    grant = signer().verify(signer().tenant_token("acme", 60))
    assert grant.opens_tenant("acme") and not grant.opens_tenant("globex")
    assert grant.opens_job("any", "acme") and not grant.opens_job("any", "globex")
    assert not grant.opens_job("any", None)


def test_expired_tokens_are_refused() -> None:
    token = signer(now=1000.0).job_token("j", "acme", 60)
    assert signer(now=1059.0).verify(token).job_id == "j"
    with pytest.raises(AccessDenied, match="expired"):
        signer(now=1060.0).verify(token)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # mac changed
        lambda t: ("f" if t[0] != "f" else "g") + t[1:],  # payload changed
        lambda t: t.replace(".", ""),
        lambda t: t + ".x",
        lambda t: "",
        lambda t: "é" * 10 + "." + "ü",
        lambda t: "x" * 5000,
    ],
)
def test_tampered_or_malformed_tokens_are_refused(mangle: object) -> None:
    token = signer().job_token("j", "acme", 60)
    with pytest.raises(AccessDenied):
        signer().verify(mangle(token))  # type: ignore[operator]


def test_a_payload_re_signed_with_another_secret_is_refused() -> None:
    other = TokenSigner(SecretStr("z" * 48), clock=lambda: 1_000_000.0)
    with pytest.raises(AccessDenied, match="signature"):
        signer().verify(other.tenant_token("acme", 60))


def test_a_widened_payload_with_the_old_mac_is_refused() -> None:
    """Swapping in a tenant-scope payload keeps the job token's mac: refused."""
    job = signer().job_token("j", "acme", 60)
    tenant = signer().tenant_token("acme", 60)
    forged = tenant.split(".")[0] + "." + job.split(".")[1]
    with pytest.raises(AccessDenied, match="signature"):
        signer().verify(forged)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenSigner(SecretStr("short"))
