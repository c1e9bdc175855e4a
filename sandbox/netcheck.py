"""Where HTTP may go: scheme, host allowlist, ports, and never loopback or metadata endpoints.

Hosts are normalised first so that every spelling of an address is judged as the address:
decimal (`2130706433`), hex (`0x7f.1`), octal (`0177.0.0.1`), short (`127.1`) and
IPv4-mapped IPv6 forms all become the IPv4 address a resolver would use.
"""

from __future__ import annotations

import ipaddress
import re
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from policy.document import HttpPolicy, Tenant
from sandbox.denial import Denied

METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.com",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
_CLUSTER_SUFFIXES = ("svc", "pod")
_HOST_CHARS = re.compile(r"^[a-z0-9.-]+$")


def _inet_aton(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address libc's inet_aton would read from `host`, if it reads one."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        try:
            if re.fullmatch(r"0[xX][0-9a-fA-F]*", part):
                numbers.append(int(part[2:] or "0", 16))
            elif re.fullmatch(r"0[0-7]*", part):
                numbers.append(int(part, 8))
            elif re.fullmatch(r"[1-9][0-9]*", part):
                numbers.append(int(part))
            else:
                return None
        except ValueError:
            return None
    last_bits = 32 - 8 * (len(numbers) - 1)
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 1 << last_bits:
        return None
    value = numbers[-1]
    for index, n in enumerate(numbers[:-1]):
        value |= n << (24 - 8 * index)
    return ipaddress.IPv4Address(value)


def normalise_host(host: str) -> str | ipaddress.IPv4Address | ipaddress.IPv6Address:
    host = host.lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = _inet_aton(host)  # type: ignore[assignment]
        if address is None:
            return host
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return mapped
    return address


def _refuse(rule: str, reason: str, hint: str = "") -> Denied:
    return Denied(
        f"http.{rule}",
        reason,
        hint or "Query an allowed in-cluster service by name, e.g. http://api.<namespace>.svc/.",
    )


def cluster_namespace(host: str) -> str | None:
    """The namespace an in-cluster DNS name resolves in: the label right before `svc` (or
    `pod`), in every form kube-dns answers (`svc.ns.svc`, `pod.svc.ns.svc` for headless
    services, with or without `.cluster.local`). None: not an in-cluster name; "": an
    in-cluster name that names no namespace (`kube-system.svc` names kube-system;
    `svc.cluster.local` names none)."""
    labels = host.split(".")
    in_cluster = False
    if labels[-2:] == ["cluster", "local"]:
        labels, in_cluster = labels[:-2], True
    if labels and labels[-1] in _CLUSTER_SUFFIXES:
        return labels[-2] if len(labels) >= 2 and labels[-2] else ""
    return "" if in_cluster else None


def _check_tenant(raw_host: str, host: str, tenant: Tenant) -> None:
    namespace = cluster_namespace(host)
    if namespace is None:
        return  # an outside host the global allowlist names; no namespace to compare
    if not namespace:
        raise _refuse(
            "tenant",
            f"{raw_host!r} is an in-cluster name without a namespace, so its tenant is unknown.",
            "Write the service as <service>.<namespace>.svc with one of: "
            + ", ".join(tenant.namespaces),
        )
    if not any(fnmatchcase(namespace, ns) for ns in tenant.namespaces):
        raise _refuse(
            "tenant",
            f"{raw_host!r} resolves in namespace {namespace!r}, which is not this ticket's tenant.",
            "Only query services in the tenant's own namespaces: " + ", ".join(tenant.namespaces),
        )


def check_host(raw_host: str, port: int | None, http: HttpPolicy, tenant: Tenant | None) -> None:
    if not raw_host:
        raise _refuse("host", "The URL has no host.")
    if not raw_host.isascii() or "%" in raw_host:
        raise _refuse("host", f"The host {raw_host!r} is not plain ASCII.")
    host = normalise_host(raw_host)
    if isinstance(host, str):
        if not _HOST_CHARS.fullmatch(host):
            raise _refuse("host", f"The host {raw_host!r} has characters a hostname cannot have.")
        if host in METADATA_NAMES or host == "localhost" or host.endswith(".localhost"):
            raise _refuse("metadata", f"{raw_host!r} is a local or cloud metadata endpoint.")
        allowed = list(http.hosts) + (list(tenant.hosts) if tenant else [])
        if not any(fnmatchcase(host, pattern.lower()) for pattern in allowed):
            raise _refuse("host", f"The host {raw_host!r} is not on the HTTP allowlist.")
        if tenant is not None and not any(fnmatchcase(host, p.lower()) for p in tenant.hosts):
            _check_tenant(raw_host, host, tenant)
        elif cluster_namespace(host) == "":
            raise _refuse(
                "tenant",
                f"{raw_host!r} is an in-cluster name without a namespace.",
                "Write the service as <service>.<namespace>.svc.",
            )
    else:
        if host in METADATA_ADDRESSES:
            raise _refuse("metadata", f"{raw_host!r} is a cloud metadata address.")
        if host.is_loopback or host.is_link_local or host.is_unspecified or host.is_multicast:
            raise _refuse("address", f"{raw_host!r} is a loopback, link-local or special address.")
        allowed = list(http.hosts) + (list(tenant.hosts) if tenant else [])
        if str(host) not in allowed:
            raise _refuse(
                "address",
                f"The address {raw_host!r} is not on the HTTP allowlist (addresses must be "
                "listed exactly).",
            )
    if port is not None and port not in http.ports:
        raise _refuse(
            "port",
            f"Port {port} is not allowed; allowed ports: {', '.join(map(str, http.ports))}.",
        )


_URL_NEVER = " \t\\"
_AUTHORITY_NEVER = '{}[]`"<>^|'


def check_url(url: str, http: HttpPolicy, tenant: Tenant | None) -> None:
    """Braces, brackets and quotes are fine after the host (PromQL/LogQL queries): curl always
    runs with --globoff, so they are literal. Before the path they are refused, because URL
    parsers disagree on such hosts."""
    scheme_end = url.find("://")
    rest = url[scheme_end + 3 :] if scheme_end >= 0 else url
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if (
        not url.isascii()
        or any(c in url for c in _URL_NEVER)
        or any(c in authority for c in _AUTHORITY_NEVER)
        or any(ord(c) < 32 or ord(c) == 127 for c in url)
    ):
        raise _refuse(
            "url",
            f"The URL {url!r} has characters that URL parsers disagree on.",
            "Write a plain http(s)://host/path URL; spaces in a query go as %20, or use "
            "-G --data-urlencode 'query=...'.",
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme_end < 0 or scheme not in ("http", "https"):
        raise _refuse(
            "scheme",
            f"Only http:// and https:// URLs are allowed (got {url!r}).",
            "Write the URL with an explicit http:// or https:// scheme.",
        )
    if parts.netloc != authority:
        raise _refuse("url", f"The host part of {url!r} is ambiguous.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _refuse("userinfo", "Credentials or '@' in the URL's host part are not allowed.")
    try:
        port = parts.port
    except ValueError as exc:
        raise _refuse("port", f"The URL's port is invalid: {exc}.") from exc
    host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    if port is None:
        port = 443 if scheme == "https" else 80
    check_host(host, port, http, tenant)
