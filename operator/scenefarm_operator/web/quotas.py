"""The intake's caps, counted from the cluster: unfinished requests from the VideoRequests that
exist; requests in 24 hours from those and from a ledger of acceptances that outlives them.

Deleting a request must not give its user the request back, so every acceptance is written to
the ConfigMap `scenefarm-intake-ledger` in the intake's namespace before its VideoRequest is
created (a crash between the two counts a request that was never made: over, never under). A
restarted operator reads the same ledger and decides the same.

One data key per acceptance, `a-<hash of the row's id, $sequence and $createdAt>` (a row made
again under the same id is a new acceptance, and a row taken again after a crash is the same
one), holding `<unix seconds> <request name> <user label> <source label>`. Each write is a JSON
merge patch of that one key, which also removes the entries older than 24 hours: patches of
distinct keys never overwrite each other, so concurrent writers need no resourceVersion. At most
`CAPACITY` entries (at most ~220 bytes each, well under the 1 MiB a ConfigMap holds): a full
ledger refuses like the total daily cap.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from scenefarm_operator.web.intake import (
    SOURCE_LABEL,
    Limits,
    check_quota,
    quotas,
    source_value,
)
from scenefarm_operator.web.provenance import (
    INTAKE_LABEL,
    INTAKE_SOURCE,
    USER_LABEL,
    RowRefused,
    label_value,
    request_name,
)

LEDGER = "scenefarm-intake-ledger"
CAPACITY = 3000  # entries in 24 hours; the effective total daily cap is at most this
DAY_SECONDS = 24 * 3600


@dataclasses.dataclass(frozen=True)
class Entry:
    """One acceptance: when, which request, whose (the user and source labels)."""

    at: int
    request: str
    user: str
    source: str

    def encode(self) -> str:
        return f"{self.at} {self.request} {self.user} {self.source}"

    @classmethod
    def decode(cls, value: str) -> Entry | None:
        parts = value.split(" ")
        if len(parts) != 4 or not parts[0].isdigit():
            return None
        return cls(int(parts[0]), parts[1], parts[2], parts[3])


def acceptance_key(row: Mapping[str, Any]) -> str:
    """The ledger key of a row's acceptance (a valid ConfigMap key)."""
    origin = "\n".join(str(row.get(key) or "") for key in ("$id", "$sequence", "$createdAt"))
    return "a-" + hashlib.sha256(origin.encode("utf-8", "replace")).hexdigest()[:32]


def recent(data: Mapping[str, str], now: datetime.datetime) -> dict[str, Entry]:
    """The ledger's entries of the last 24 hours."""
    found = {key: Entry.decode(value) for key, value in data.items()}
    return {key: e for key, e in found.items() if e is not None and now.timestamp() - e.at < DAY_SECONDS}


def stale(data: Mapping[str, str], now: datetime.datetime) -> list[str]:
    """Keys to remove: older than 24 hours, or not an entry at all."""
    kept = recent(data, now)
    return sorted(key for key in data if key not in kept)


class LedgerKube(Protocol):
    """The Kubernetes calls the caps need (`intake_loop.KubeOps` has them)."""

    async def list_of(self, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]: ...

    async def read_configmap(self, namespace: str, name: str) -> dict[str, str] | None: ...

    async def patch_configmap(self, namespace: str, name: str, data: Mapping[str, str | None]) -> None: ...


class Quotas:
    """Admit a row against the caps (per user, per source, in total) and record its acceptance."""

    def __init__(self, kube: LedgerKube, namespace: str, limits: Limits) -> None:
        self.kube = kube
        self.namespace = namespace
        self.limits = limits

    async def admit(self, row: Mapping[str, Any], owner: str, source: str, now: datetime.datetime) -> None:
        """Refuse the row (RowRefused) when a cap is reached; else record it in the ledger."""
        key = acceptance_key(row)
        data = await self.kube.read_configmap(self.namespace, LEDGER) or {}
        current = recent(data, now)
        entries = [e for k, e in current.items() if k != key]  # a row taken again is no new one
        if len(entries) >= CAPACITY:
            raise RowRefused(quotas(self.limits)["total"].spent.format(n=len(entries)))
        name = request_name(str(row["$id"]))
        entry = Entry(int(now.timestamp()), name, label_value(owner), source_value(source))
        await self.check_scopes(entry, entries, now)
        patch: dict[str, str | None] = dict.fromkeys(stale(data, now))
        if key not in current:
            patch[key] = entry.encode()
        if patch:
            await self.kube.patch_configmap(self.namespace, LEDGER, patch)

    async def check_scopes(self, entry: Entry, entries: list[Entry], now: datetime.datetime) -> None:
        """Each cap of the row's scopes: its user, its source, all web requests."""
        base = {INTAKE_LABEL: INTAKE_SOURCE}
        scopes: dict[str, tuple[dict[str, str], Callable[[Entry], bool]]] = {
            "user": (base | {USER_LABEL: entry.user}, lambda e: e.user == entry.user),
            "source": (base | {SOURCE_LABEL: entry.source}, lambda e: e.source == entry.source),
            "total": (base, lambda e: True),
        }
        for scope, (labels, ours) in scopes.items():
            found = await self.kube.list_of(self.namespace, labels)
            # This row's own request (made before a crash or by another replica) is no new one.
            others = [m for m in found if (m.get("metadata") or {}).get("name") != entry.request]
            check_quota(others, self.limits, now, scope, [e.request for e in entries if ours(e)])

    async def withdraw(self, row: Mapping[str, Any]) -> None:
        """Remove a row's acceptance: Kubernetes refused its request, so none was made."""
        await self.kube.patch_configmap(self.namespace, LEDGER, {acceptance_key(row): None})
