"""Webhook targets: named by reference, never by a URL in the spec, and checked before each send.

`spec.notify.target: <name>` picks an entry of the operator's allowlist (Helm values
`notify.targets`, SCENEFARM_NOTIFY_TARGETS; signing keys are files named after the targets in
SCENEFARM_NOTIFY_KEYS_DIR). `spec.notify.secretRef.name` names a Secret in the request's namespace
holding `url` and `signingKey`; the operator reads it only when the chart allows it
(`notify.secretRefs`). A destination that resolves to anything but public addresses (private,
loopback, link-local, CGNAT, multicast, reserved) is refused unless its allowlist entry says
`allowPrivate: true`: a namespace user must not turn the operator into a proxy to internal
services. Only http and https URLs, without credentials in them, are accepted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from scenefarm_operator.support.errors import ScenefarmError, SettingsError

Resolver = Callable[[str, int], Awaitable[list[str]]]


class TargetError(ScenefarmError):
    """The target cannot be used; the message says what to change."""


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
    infos = await asyncio.get_running_loop().getaddrinfo(host, port)
    return [str(info[4][0]) for info in infos]


async def check_destination(target: Target, resolve: Resolver = system_resolver) -> None:
    """Raise TargetError unless every address the host resolves to is public (or allowlisted)."""
    parts = check_url(target.url)
    if target.allow_private:
        return
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [host] if _is_ip(host) else await resolve(host, port)
    except OSError as e:
        raise TargetError(f"cannot resolve webhook host {host!r}: {e}") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global:
            raise TargetError(
                f"webhook host {host!r} resolves to non-public address {ip}; refused "
                "(an operator-side allowlist entry with allowPrivate: true permits it)"
            )


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
