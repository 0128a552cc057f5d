"""Leader election over a Lease: one holder at a time, take-over only after the holder stopped.

The store below does what the API server does with a Lease: a create of an existing name and a
replace at a stale resourceVersion are refused (409), every write bumps the resourceVersion.
Time is a hand-moved clock shared by the replicas (each elector measures on it).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any

import pytest

from scenefarm_operator.runtime import leader
from scenefarm_operator.runtime.leader import Elector, LeaseCalls, Timing
from scenefarm_operator.support.errors import SettingsError
from scenefarm_operator.support.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class LeaseStore:
    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.down = False

    async def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        if self.down:
            raise ConnectionError("API server unreachable")
        return copy.deepcopy(self.lease)

    async def write(self, lease: Mapping[str, Any]) -> bool:
        if self.down:
            raise ConnectionError("API server unreachable")
        sent = lease["metadata"].get("resourceVersion")
        current = self.lease["metadata"]["resourceVersion"] if self.lease else None
        if sent != current:  # AlreadyExists on create, Conflict on a stale replace
            return False
        self.version += 1
        self.lease = copy.deepcopy(dict(lease))
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        return True

    @property
    def holder(self) -> str:
        return str((self.lease or {}).get("spec", {}).get("holderIdentity", ""))


def replica(store: LeaseStore, clock: Clock, identity: str) -> Elector:
    calls = LeaseCalls(read=store.read, write=store.write)
    return Elector(
        namespace="ops", name="scenefarm", identity=identity, calls=calls, timing=Timing(), clock=clock
    )


async def test_the_first_replica_takes_the_lease_and_a_second_stands_by() -> None:
    store, clock = LeaseStore(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert store.holder == "a" and a.leading and not b.leading


async def test_of_two_replicas_writing_the_same_read_only_one_wins() -> None:
    store, clock = LeaseStore(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    await a.try_acquire_or_renew()
    await a.release()  # free for anyone
    read = store.read

    async def both_read_first(namespace: str, name: str) -> dict[str, Any] | None:
        return await read(namespace, name)

    store_state = await both_read_first("ops", "scenefarm")
    lease_for_a = a._lease(store_state, 1)
    lease_for_b = b._lease(store_state, 1)
    assert await store.write(lease_for_a) != await store.write(lease_for_b)


async def test_a_standby_takes_over_only_after_watching_the_lease_unrenewed_for_its_duration() -> None:
    store, clock = LeaseStore(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()  # b starts watching the record now
    clock.now += 14.9
    assert not await b.try_acquire_or_renew()
    clock.now += 0.2
    assert await b.try_acquire_or_renew()
    assert store.holder == "b"
    assert store.lease is not None and store.lease["spec"]["leaseTransitions"] == 1


async def test_renewals_keep_the_standby_out_however_long() -> None:
    store, clock = LeaseStore(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    await a.try_acquire_or_renew()
    for _ in range(30):
        clock.now += 2
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()
    assert store.holder == "a"


async def test_a_holder_that_cannot_renew_stops_acting_before_a_standby_may_take_over() -> None:
    store, clock = LeaseStore(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    await a.try_acquire_or_renew()
    await b.try_acquire_or_renew()
    store.down = True  # a is cut off from the API server; b too, for now
    stopped_at = None
    for _ in range(100):
        clock.now += 0.2
        if stopped_at is None and not a.leading:
            stopped_at = clock.now
    assert stopped_at is not None
    store.down = False
    took_over = None
    while took_over is None:
        if await b.try_acquire_or_renew():
            took_over = clock.now
        clock.now += 0.2
    assert stopped_at < took_over


async def test_a_released_lease_is_taken_at_once() -> None:
    store, clock = LeaseStore(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    await a.release()
    assert store.holder == "" and not a.leading
    assert await b.try_acquire_or_renew()


async def test_a_holder_whose_lease_was_taken_stops_holding() -> None:
    store, clock = LeaseStore(), Clock()
    a, b = replica(store, clock, "a"), replica(store, clock, "b")
    await a.try_acquire_or_renew()
    await b.try_acquire_or_renew()
    clock.now += 16  # a was paused (e.g. a stopped VM) past the lease duration
    assert await b.try_acquire_or_renew()
    assert not await a.try_acquire_or_renew()
    assert not a.leading


def test_the_watchdog_ends_the_process_once_renewals_stop() -> None:
    store, clock = LeaseStore(), Clock()
    a = replica(store, clock, "a")
    a.renewed_at = clock.now
    ended: list[int] = []
    stop = threading.Event()
    clock.now += 10.5  # past the renew deadline
    leader.fence(a, stop, end=ended.append)
    assert ended == [leader.FENCED_EXIT]


def test_leader_election_settings_must_let_the_holder_stop_before_a_take_over() -> None:
    base = {"SCENEFARM_LEADER_ELECTION_LEASE": "scenefarm", "SCENEFARM_LEADER_ELECTION_NAMESPACE": "ops"}
    assert Settings.from_env(base).renew_deadline_seconds == 10.0
    with pytest.raises(SettingsError, match="stops acting before"):
        Settings.from_env(base | {"SCENEFARM_RENEW_DEADLINE_SECONDS": "20"})
    with pytest.raises(SettingsError, match="NAMESPACE"):
        Settings.from_env({"SCENEFARM_LEADER_ELECTION_LEASE": "scenefarm"})


async def test_without_a_lease_name_there_is_no_election() -> None:
    store = LeaseStore()
    assert await leader.lead(Settings(), LeaseCalls(read=store.read, write=store.write)) is None
    assert store.lease is None
