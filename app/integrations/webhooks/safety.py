"""Where webhooks may be sent: no loopback, private, link-local or cloud metadata addresses in production.

A URL is checked when an endpoint is saved and again at every send, on the addresses its host resolves to
then; the request goes to the address that was checked (a DNS answer that changes between check and
connect cannot redirect it), with the original host in `Host` and TLS SNI.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from app.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Cloud instance metadata services: never a webhook receiver, in any environment (AWS, ECS, GCP and
#: Azure IMDS share 169.254.169.254; AWS IPv6; Alibaba; Azure's wire server).
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)


class UnsafeUrl(Exception):
    """The URL may not receive webhooks; the message says why, in words fit for the API client."""


@dataclass(frozen=True)
class Target:
    """A checked destination: the URL to request (host replaced by the address) and what to say it is."""

    url: str
    host_header: str
    server_name: str | None  # TLS SNI and certificate check name, for https


def check_form(url: str, settings: Settings) -> tuple[str, int]:
    """Scheme, host and port of a webhook URL, without resolving it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("the URL must be http or https")
    if parts.scheme == "http" and settings.webhook_require_https:
        raise UnsafeUrl("this deployment sends webhooks over https only")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("the URL must not carry credentials: authenticate receipts by their signature")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl("the URL's port is not a number from 1 to 65535") from exc
    return parts.hostname, port


def refusal(address: IPAddress, settings: Settings) -> str | None:
    """Why webhooks may not go to this address, or None when they may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in settings.webhook_allowed_networks):
        return None
    if address in METADATA:
        return f"{address} is a cloud metadata address"
    if address.is_global or not settings.is_production:
        return None
    kind = (
        "loopback"
        if address.is_loopback
        else "link-local"
        if address.is_link_local
        else "private"
        if address.is_private
        else "not public"
    )
    return f"{address} is a {kind} address; allow its network with SPONSORFLOW_WEBHOOK_ALLOWED_NETWORKS"


async def resolve(host: str, port: int) -> list[IPAddress]:
    with contextlib.suppress(ValueError):  # a name, not a literal address: look it up
        return [ipaddress.ip_address(host)]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeUrl(f"the host {host} does not resolve") from exc
    # Scoped IPv6 results carry a `%zone` suffix that ip_address refuses.
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))


async def checked_target(url: str, settings: Settings) -> Target:
    """Resolve the URL's host now and refuse it if any address it resolves to is refused."""
    host, port = check_form(url, settings)
    addresses = await resolve(host, port)
    for address in addresses:
        reason = refusal(address, settings)
        if reason is not None:
            raise UnsafeUrl(f"the URL's host resolves to a refused address: {reason}")
    address = addresses[0]
    parts = urlsplit(url)
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    host_header = parts.netloc.rpartition("@")[2]
    return Target(
        url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
        host_header=host_header,
        server_name=host if parts.scheme == "https" else None,
    )
