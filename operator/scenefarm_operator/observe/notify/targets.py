"""Webhook targets: named by reference, never by a URL in the spec, and checked before each send.

`spec.notify.target: <name>` picks an entry of the operator's allowlist (Helm values
`notify.targets`, SCENEFARM_NOTIFY_TARGETS; signing keys are files named after the targets in
SCENEFARM_NOTIFY_KEYS_DIR). `spec.notify.secretRef.name` names a Secret in the request's namespace
holding `url` and `signingKey`; the operator reads it only when the chart allows it
(`notify.secretRefs`). A destination that resolves to anything but public addresses (private,
loopback, link-local, CGNAT, multicast, reserved) is refused unless its allowlist entry says
`allowPrivate: true`: a namespace user must not turn the operator into a proxy to internal
services. Only http and https URLs, without credentials in them, are accepted.

The host is resolved once per attempt; `check_destination` returns the addresses it checked and
the sender connects to those, never to a second lookup of the name (DNS rebinding). IPv6
addresses that carry an IPv4 address are judged by it where the embedding is fixed: IPv4-mapped
(::ffff:0:0/96), NAT64 well-known prefix (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16) pass only
when the embedded IPv4 address is public. IPv4-compatible (::/96, deprecated), local-use NAT64
(64:ff9b:1::/48, where the IPv4 bits depend on the site's prefix length) and Teredo (2001::/32)
addresses are refused whatever they carry.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import socket
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from scenefarm_operator.support.errors import ScenefarmError, SettingsError

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291 2.5.5.1, deprecated
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: IPv4 in the last 32 bits
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: IPv4 bits depend on the site
_TEREDO = ipaddress.IPv6Network("2001::/32")  # RFC 4380


class TargetError(ScenefarmError):
    """The target cannot be used; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class Destination:
    """What `check_destination` vouched for: a send may connect to these addresses and no other.

    `addresses` are the checked addresses of `host` in the resolver's order, as connectable IP
    literals (an IPv4-mapped IPv6 address is given as its IPv4 address). They are empty only for an
    allowlist entry with `allowPrivate: true`: nothing was checked, so the HTTP client resolves.
    """

    host: str
    addresses: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    url: str
    key: str = dataclasses.field(repr=False)
    allow_private: bool = False


def parse_allowlist(text: str, keys_dir: str) -> dict[str, Target]:
    """SCENEFARM_NOTIFY_TARGETS: [{"name": ..., "url": ..., "allowPrivate": false}, ...]."""
    if not text.strip():
        return {}
    try:
        raw = json.loads(text)
        entries = [(str(t["name"]), str(t["url"]), bool(t.get("allowPrivate", False))) for t in raw]
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise SettingsError(
            'SCENEFARM_NOTIFY_TARGETS must be a JSON list of {"name", "url", "allowPrivate"}: ' + str(e)
        ) from None
    targets = {}
    for name, url, allow_private in entries:
        check_url(url)
        key_file = Path(keys_dir) / name if keys_dir else None
        key = key_file.read_text().strip() if key_file is not None and key_file.is_file() else ""
        targets[name] = Target(name, url, key, allow_private)
    return targets


def from_secret(name: str, data: Mapping[str, str] | None) -> Target:
    if data is None:
        raise TargetError(f"Secret {name!r} named by spec.notify.secretRef does not exist")
    missing = [k for k in ("url", "signingKey") if not data.get(k)]
    if missing:
        raise TargetError(f"Secret {name!r} lacks {' and '.join(missing)} (spec.notify.secretRef)")
    url = data["url"].strip()
    check_url(url)
    return Target(f"secret/{name}", url, data["signingKey"].strip(), allow_private=False)


def check_url(url: str) -> urllib.parse.SplitResult:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as e:
        raise TargetError(f"webhook URL is invalid: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError("webhook URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise TargetError("webhook URL must not carry credentials; the body is signed instead")
    return parts


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_destination(target: Target, resolve: Resolver = system_resolver) -> Destination:
    """Resolve the host once; raise TargetError unless every address is public (or allowlisted).

    The caller must connect to the returned addresses only: resolving the name again could answer
    differently (DNS rebinding).
    """
    parts = check_url(target.url)
    host = parts.hostname or ""
    if target.allow_private:
        return Destination(host, ())
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        answers = [host] if _is_ip(host) else await resolve(host, port)
    except OSError as e:
        raise TargetError(f"cannot resolve webhook host {host!r}: {e}") from None
    if not answers:
        raise TargetError(f"webhook host {host!r} resolves to no address")
    checked: list[str] = []
    for answer in answers:
        try:
            ip = ipaddress.ip_address(answer.split("%", 1)[0])
        except ValueError:
            raise TargetError(f"webhook host {host!r} resolves to {answer!r}, not an IP address") from None
        refusal = _refusal(ip)
        if refusal is not None:
            raise TargetError(
                f"webhook host {host!r} resolves to {refusal}; refused "
                "(an operator-side allowlist entry with allowPrivate: true permits it)"
            )
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        address = str(mapped or ip)
        if address not in checked:
            checked.append(address)
    return Destination(host, tuple(checked))


def _refusal(ip: IPAddress) -> str | None:
    """Why `ip` must not be connected to, or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded, kind = None, ""
        if ip.ipv4_mapped is not None:
            embedded, kind = ip.ipv4_mapped, "IPv4-mapped"
        elif ip in _NAT64_WELL_KNOWN:
            embedded, kind = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
        elif ip.sixtofour is not None:
            embedded, kind = ip.sixtofour, "6to4"
        if embedded is not None:
            return None if _public(embedded) else f"non-public address {embedded} (in {kind} address {ip})"
        if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # :: and ::1 are judged below
            v4 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            return f"{ip}, an IPv4-compatible IPv6 address (::/96, deprecated) carrying {v4}"
        if ip in _NAT64_LOCAL_USE:
            return (
                f"{ip}, a local-use NAT64 address (64:ff9b:1::/48) whose IPv4 part depends on the "
                "site's prefix length and cannot be checked"
            )
        if ip in _TEREDO and ip.teredo is not None:
            return f"{ip}, a Teredo address (2001::/32) tunnelling to {ip.teredo[1]}"
    return None if _public(ip) else f"non-public address {ip}"


def _public(ip: IPAddress) -> bool:
    return ip.is_global and not ip.is_multicast


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def describe(spec_notify: Mapping[str, Any]) -> str:
    if spec_notify.get("target"):
        return f"target {spec_notify['target']!r}"
    return f"Secret {(spec_notify.get('secretRef') or {}).get('name')!r}"
