"""The daily caps' ledger: what an acceptance leaves in the cluster, how long, and how big."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

import pytest

from scenefarm_operator.web.intake import Limits
from scenefarm_operator.web.provenance import RowRefused
from scenefarm_operator.web.quotas import CAPACITY, LEDGER, Entry, Quotas, acceptance_key, recent, stale

NOW = datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.UTC)
CONFIGMAP_LIMIT = 1024 * 1024  # what the API server stores in one ConfigMap's data


class LedgerKube:
    def __init__(self, requests: list[dict[str, Any]] | None = None) -> None:
        self.requests = requests or []
        self.data: dict[str, str] | None = None
        self.patches: list[dict[str, str | None]] = []

    async def list_of(self, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        found = [r for r in self.requests if labels.items() <= r["metadata"]["labels"].items()]
        return found

    async def read_configmap(self, namespace: str, name: str) -> dict[str, str] | None:
        assert name == LEDGER
        return None if self.data is None else dict(self.data)

    async def patch_configmap(self, namespace: str, name: str, data: Mapping[str, str | None]) -> None:
        self.patches.append(dict(data))
        merged = self.data if self.data is not None else {}
        for key, value in data.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        self.data = merged


def row(row_id: str, sequence: int = 1) -> dict[str, Any]:
    return {"$id": row_id, "$sequence": str(sequence), "$createdAt": f"2026-11-29T1{sequence % 10}:00:00Z"}


def at(hours_ago: float) -> datetime.datetime:
    return NOW - datetime.timedelta(hours=hours_ago)


async def test_an_acceptance_is_recorded_once_and_counts_for_24_hours() -> None:
    kube = LedgerKube()
    quotas = Quotas(kube, "web", Limits(max_per_user_per_day=2, max_active_per_user=9))
    await quotas.admit(row("r1"), "alice", "1.2.3.4", at(25))
    await quotas.admit(row("r2"), "alice", "1.2.3.4", at(3))
    await quotas.admit(row("r2"), "alice", "1.2.3.4", at(2))  # taken again after a crash: no new one
    await quotas.admit(row("r3"), "alice", "1.2.3.4", NOW)  # r1 is over 24 hours old: pruned
    assert kube.data is not None and len(kube.data) == 2
    assert {e.request for e in recent(kube.data, NOW).values()} == {"web-r2", "web-r3"}
    with pytest.raises(RowRefused, match="You have asked for 2 videos in the last 24 hours"):
        await quotas.admit(row("r4"), "alice", "1.2.3.4", NOW)
    await quotas.admit(row("b1"), "bob", "5.6.7.8", NOW)  # another user, another address


async def test_a_row_made_again_under_the_same_id_is_a_new_acceptance() -> None:
    assert acceptance_key(row("r1", 1)) != acceptance_key(row("r1", 2))
    kube = LedgerKube()
    quotas = Quotas(kube, "web", Limits(max_per_user_per_day=1, max_active_per_user=9))
    await quotas.admit(row("r1", 1), "alice", "", NOW)
    with pytest.raises(RowRefused, match="1 videos in the last 24 hours"):
        await quotas.admit(row("r1", 2), "alice", "", NOW)


async def test_a_request_that_still_exists_and_is_recorded_counts_once() -> None:
    kube = LedgerKube()
    quotas = Quotas(kube, "web", Limits(max_per_user_per_day=2, max_active_per_user=9))
    await quotas.admit(row("r1"), "alice", "", NOW)
    labels = {"scenefarm.dev/intake": "appwrite", "scenefarm.dev/appwrite-user": "alice"}
    created = NOW.isoformat().replace("+00:00", "Z")
    kube.requests.append(
        {"metadata": {"name": "web-r1", "labels": labels, "creationTimestamp": created}, "status": {}}
    )
    await quotas.admit(row("r2"), "alice", "", NOW)  # 2 of 2: web-r1 once, r2 now


async def test_the_ledger_is_pruned_bounded_and_far_below_the_configmap_limit() -> None:
    worst = Entry(2_000_000_000, "web-" + "x" * 50, "u" * 63, "a-" + "f" * 40)
    data = {acceptance_key(row(str(n), n)): worst.encode() for n in range(CAPACITY)}
    assert len(json.dumps(data)) < CONFIGMAP_LIMIT * 0.75
    old = {"a-old": Entry(int(at(25).timestamp()), "web-o", "u", "s").encode(), "junk": "not an entry"}
    assert stale(old, NOW) == ["a-old", "junk"]
    kube = LedgerKube()
    kube.data = {key: Entry(int(NOW.timestamp()), "web-r", "u", "s").encode() for key in list(data)}
    quotas = Quotas(kube, "web", Limits(max_total_per_day=10**6, max_per_user_per_day=10**6))
    with pytest.raises(RowRefused, match=f"The service has taken {CAPACITY} videos in the last 24 hours"):
        await quotas.admit(row("new"), "alice", "", NOW)
    assert kube.patches == []


async def test_a_withdrawn_acceptance_no_longer_counts() -> None:
    kube = LedgerKube()
    quotas = Quotas(kube, "web", Limits(max_per_user_per_day=1, max_active_per_user=9))
    await quotas.admit(row("r1"), "alice", "", NOW)
    await quotas.withdraw(row("r1"))  # Kubernetes refused the request: none was made
    await quotas.admit(row("r2"), "alice", "", NOW)
