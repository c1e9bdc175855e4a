"""Find secrets nobody registered: credential shapes (detect-secrets' precise plugins plus our
own patterns for URL passwords, PEM keys, JWTs, cloud keys, `password=` pairs and high-entropy
assignments), also after the reversible transforms a filter stage can apply: rot13, case
change, separators removed or inserted, base64, hex and URL escaping.

A hit is a `Hit(start, end, kind)` span of the text given; the scrubber merges and replaces them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.plugins.base import RegexBasedDetector

from core.forms import rot13


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    kind: str
    known: bool = False  # a registered value: its name says more than a detector's kind

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end


# detect-secrets plugins whose patterns name one token format precisely. Left out: keyword and
# entropy plugins (line-oriented and noisy on logs; ours below work on spans), "Public IP"
# (addresses are what an investigation is about) and the vendor keyword plugins (Cloudant, IBM,
# SoftLayer, Artifactory) whose patterns match ordinary words. JWT, NPM and OpenAI patterns have
# unbounded repeats (quadratic on crafted output); ours below cover those bounded.
_DS_TYPES = {
    "AWS Access Key": "aws-access-key",
    "Azure Storage Account access key": "azure-storage-key",
    "Basic Auth Credentials": "url-password",
    "Discord Bot Token": "discord-token",
    "GitHub Token": "github-token",
    "GitLab Token": "gitlab-token",
    "Mailchimp Access Key": "mailchimp-key",
    "PyPI Token": "pypi-token",
    "SendGrid API Key": "sendgrid-key",
    "Slack Token": "slack-token",
    "Square OAuth Secret": "square-secret",
    "Stripe Access Key": "stripe-key",
    "Telegram Bot Token": "telegram-token",
    "Twilio API Key": "twilio-key",
}

_KEYWORD = (
    r"(?:password|passwd|passphrase|pwd|secret|client[_-]?secret|token|api[_-]?key|apikey|"
    r"access[_-]?key|secret[_-]?key|private[_-]?key|auth[_-]?token|credentials?|authorization)"
)
_OWN: list[tuple[str, re.Pattern[str]]] = [
    # the body of a PEM private key, also with its dashes removed or its newlines escaped
    (
        "pem-private-key",
        re.compile(
            r"BEGIN\s?[A-Z0-9 ]{0,24}?PRIVATE\s?KEY(?:\s?BLOCK)?-*"
            r".*?(?:END\s?[A-Z0-9 ]{0,24}?PRIVATE\s?KEY(?:\s?BLOCK)?-*|\Z)",
            re.S | re.I,
        ),
    ),
    # GCP service-account JSON: the key's value, escaped newlines and all
    ("gcp-private-key", re.compile(r"\"private_key(?:_id)?\"\s*:\s*\"((?:[^\"\\]|\\.)*)\"", re.I)),
    (
        "jwt",
        re.compile(r"eyJ[A-Za-z0-9_-]{5,400}\.[A-Za-z0-9_-]{5,4096}\.[A-Za-z0-9_-]{0,1024}", re.I),
    ),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b", re.I)),
    (
        "aws-secret-key",
        re.compile(
            r"(?i)aws.{0,24}?(?:secret|key).{0,24}?[=:]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
    ),
    ("gcp-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    (
        "slack-token",
        re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{8,256}|\bxapp-[A-Za-z0-9-]{8,256}", re.I),
    ),
    ("vault-token", re.compile(r"\bhv[sbr]\.[A-Za-z0-9_-]{20,512}|\bs\.[A-Za-z0-9]{24}\b")),
    ("anthropic-key", re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{32,256}", re.I)),
    ("bearer", re.compile(r"(?i)\bbearer[ \t]{1,4}([A-Za-z0-9._~+/-]{8,4096}=*)")),
    # scheme://user:password@host (the password only: the user and host help the reader)
    (
        "url-password",
        re.compile(
            r"(?i)(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,31}://[^/\s:@\[\]]{1,128}:([^/\s@]{1,256})@"
        ),
    ),
    # password=..., "token": "...", DB_PASSWORD: ... (value up to the next delimiter)
    (
        "secret-pair",
        re.compile(
            rf"(?i)(?<![A-Za-z0-9]){_KEYWORD}\\?[\"']?[ \t]{{0,4}}[=:][ \t]{{0,4}}\\?[\"']?"
            r"(?!\[redacted:)([^\s\"',;&<>{}()\[\]]{3,512})"
        ),
    ),
]
# NAME=VALUE where the name hints at a credential and the value looks random
_ASSIGNMENT = re.compile(
    r"(?i)(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]{0,40}?(?:key|secret|token|pass|pwd|cred|auth|sig|salt)"
    r"[A-Za-z0-9_.-]{0,40}\\?[\"']?[ \t]{0,4}[=:][ \t]{0,4}\\?[\"']?([A-Za-z0-9+/_=.-]{16,512})"
)
# any long random-looking assignment value, whatever its name (mixed case and digits: hex
# digests and pod-name hashes are lowercase and are what an investigation reads)
_RANDOM_VALUE = re.compile(r"(?<=[=:])[ \t]{0,4}[\"']?([A-Za-z0-9+/_-]{32,512}={0,2})")
_B64_BLOB = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX_BLOB = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){10,}(?![0-9A-Fa-f])")
# from a token's start only (the lookbehind): a scan from every position would be quadratic
_URL_ESCAPED = re.compile(r"(?<![^\s\"'<>])[^\s\"'<>%]*%[0-9A-Fa-f]{2}[^\s\"'<>]*")
# removed before the "separators" pass: what spacing a value out or listing its characters adds
_SEPARATORS = re.compile(r"[\s\"',\[\]]+")


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _looks_random(value: str) -> bool:
    if value.isdigit() or len(set(value)) < 8:
        return False
    limit = 3.0 if re.fullmatch(r"[0-9a-fA-F]+", value) else 3.5
    return entropy(value) >= limit


@functools.cache  # importing every plugin takes ~0.2 s; the patterns never change
def _ds_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    found = []
    mapping: dict[str, type] = get_mapping_from_secret_type_to_class()
    for secret_type, cls in mapping.items():
        kind = _DS_TYPES.get(secret_type)
        if kind is not None and issubclass(cls, RegexBasedDetector):
            found += [(kind, pattern) for pattern in cls().denylist]
    return tuple(found)


def _spans(kind: str, match: re.Match[str]) -> Hit:
    # a pattern with a group redacts the group (the value), else the whole match
    if match.re.groups and match.group(1):
        return Hit(match.start(1), match.end(1), kind)
    return Hit(match.start(), match.end(), kind)


class Detectors:
    """Stateless apart from the compiled patterns; one per `Scrubber`."""

    def __init__(self) -> None:
        self._shapes = _OWN + list(_ds_patterns())

    def shapes(self, text: str, *, entropy: bool = True) -> list[Hit]:
        """Credential shapes and (with `entropy`) high-entropy assignments in `text`."""
        hits = [_spans(kind, m) for kind, p in self._shapes for m in p.finditer(text)]
        for pattern in (_ASSIGNMENT, _RANDOM_VALUE) if entropy else ():
            for m in pattern.finditer(text):
                value = m.group(1)
                mixed = pattern is _ASSIGNMENT or (
                    re.search(r"[a-z]", value)
                    and re.search(r"[A-Z]", value)
                    and re.search(r"\d", value)
                )
                if mixed and _looks_random(value) and not value.startswith("[redacted"):
                    hits.append(Hit(m.start(1), m.end(1), "high-entropy"))
        return [h for h in hits if h.end > h.start]

    def find(self, text: str) -> list[Hit]:
        """Shapes in `text` and in what a reversible filter would have made of it."""
        hits = self.shapes(text)
        # rot13 and case changes keep every character where it was
        for variant in (rot13(text), text.upper(), rot13(text).upper()):
            hits += [Hit(h.start, h.end, h.kind) for h in self._structured(variant)]
        hits += self._without_separators(text)
        for blob, decode in (
            (_B64_BLOB, _decode_b64),
            (_HEX_BLOB, _decode_hex),
            (_URL_ESCAPED, unquote),
        ):
            hits += self._decoded(text, blob, decode)
        return hits

    def _structured(self, text: str, *, entropy: bool = True) -> Iterator[Hit]:
        # a variant can only add redactions, so every detector runs on it
        yield from self.shapes(text, entropy=entropy)

    def _without_separators(self, text: str) -> list[Hit]:
        kept: list[int] = []  # index in `text` of each kept character
        last = 0
        for m in _SEPARATORS.finditer(text):
            kept.extend(range(last, m.start()))
            last = m.end()
        kept.extend(range(last, len(text)))
        if len(kept) == len(text):
            return []
        joined = "".join(text[i] for i in kept)
        out = []
        for variant in (joined, rot13(joined)):
            # no entropy rules here: words glued together look random
            for h in self._structured(variant, entropy=False):
                out.append(Hit(kept[h.start], kept[h.end - 1] + 1, h.kind))
        return out

    def _decoded(
        self, text: str, blob: re.Pattern[str], decode: Callable[[str], str | None]
    ) -> list[Hit]:
        out = []
        for m in blob.finditer(text):
            plain = decode(m.group(0))
            if plain and plain != m.group(0):
                inner = self.shapes(plain) or list(self._without_separators(plain))
                if inner:
                    out.append(Hit(m.start(), m.end(), f"encoded-{inner[0].kind}"))
        return out


def _printable(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if sum(c.isprintable() or c in "\n\t\r" for c in text) >= 0.9 * len(text) else None


def _decode_b64(blob: str) -> str | None:
    body = blob.rstrip("=").replace("-", "+").replace("_", "/")
    best = None
    # the blob may start mid-way through a longer encoding: try each alignment
    for skip in range(4):
        part = body[skip:]
        if len(part) % 4 == 1:
            part = part[:-1]
        part += "=" * (-len(part) % 4)
        if len(part) < 8:
            continue
        try:
            decoded = _printable(base64.b64decode(part, validate=True))
        except (binascii.Error, ValueError):
            continue
        if decoded:
            best = decoded
            break
    return best


def _decode_hex(blob: str) -> str | None:
    try:
        return _printable(bytes.fromhex(blob))
    except ValueError:
        return None
