"""Exactly one active replica: a coordination.k8s.io/v1 Lease held the way client-go's leader
election holds it (docs/reliability.md).

Each replica tries to acquire the Lease every retry period. A replica takes it when it does not
exist, when its holder released it (empty holder), or when this replica has watched it stay
unchanged for the holder's lease duration, measured on this replica's own monotonic clock from
the moment it saw the last change (never from the timestamps in the Lease, so clock skew between
nodes does not matter). Writes carry the resourceVersion read, so of two replicas writing at once
one gets 409 and stays standby.

The holder renews every retry period. Fencing: a holder that has not renewed for the renew
deadline stops acting at once, by ending its process (as kube-controller-manager does), from a
watchdog thread that a blocked event loop cannot hold up. It renewed last when it sent its last
successful write; a standby cannot have seen that write earlier, so the standby's take-over
(lease duration after it saw the write) comes after the holder stopped (renew deadline after it
sent it). On a clean shutdown the holder releases the Lease after kopf stopped every handler, so
a standby takes over within one retry period.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from scenefarm_operator.support.settings import Settings

logger = logging.getLogger(__name__)

FENCED_EXIT = 3  # the process ends with this code when it lost the Lease while acting
JITTER = 1.2  # client-go's JitterFactor: standbys spread their tries over retry * (1 .. 2.2)

ReadLease = Callable[[str, str], Awaitable[dict[str, Any] | None]]
WriteLease = Callable[[Mapping[str, Any]], Awaitable[bool]]


@dataclasses.dataclass(frozen=True)
class Timing:
    """client-go's defaults; renew_deadline < lease_duration is what makes the fencing hold."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


@dataclasses.dataclass(frozen=True)
class LeaseCalls:
    """The Kubernetes calls the election makes (runtime.kube in the operator, a fake in tests)."""

    read: ReadLease
    write: WriteLease


class Elector:
    """One replica's side of the election over one Lease."""

    def __init__(
        self,
        *,
        namespace: str,
        name: str,
        identity: str,
        calls: LeaseCalls,
        timing: Timing = Timing(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.namespace, self.name, self.identity = namespace, name, identity
        self.calls, self.timing, self.clock = calls, timing, clock
        self.renewed_at: float | None = None  # when the last successful write of ours was sent
        self._observed: tuple[Any, ...] | None = None  # the holder's record as last seen changed
        self._observed_at = 0.0

    @property
    def leading(self) -> bool:
        return self.renewed_at is not None and self.clock() - self.renewed_at < self.timing.renew_deadline

    async def try_acquire_or_renew(self) -> bool:
        """One try, as client-go's tryAcquireOrRenew: True when this replica holds the Lease now."""
        sent = self.clock()
        lease = await self.calls.read(self.namespace, self.name)
        if lease is None:
            return await self._written(self._lease(None, transitions=0), sent)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        record = (
            holder,
            spec.get("renewTime"),
            spec.get("leaseDurationSeconds"),
            spec.get("leaseTransitions"),
        )
        if record != self._observed:
            self._observed, self._observed_at = record, self.clock()
        duration = float(spec.get("leaseDurationSeconds") or self.timing.lease_duration)
        if holder not in ("", self.identity) and self.clock() < self._observed_at + duration:
            self.renewed_at = None
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if holder == self.identity else 1)
        acquired = spec.get("acquireTime") if holder == self.identity else None
        return await self._written(self._lease(lease, transitions, acquired), sent)

    async def release(self) -> None:
        """Give the Lease up (empty holder, 1 s duration, as client-go's ReleaseOnCancel)."""
        if self.renewed_at is None:
            return
        self.renewed_at = None
        lease = await self.calls.read(self.namespace, self.name)
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        spec = lease["spec"]
        released = self._lease(lease, int(spec.get("leaseTransitions") or 0), spec.get("acquireTime"))
        released["spec"].update(holderIdentity="", leaseDurationSeconds=1)
        await self.calls.write(released)

    async def _written(self, lease: dict[str, Any], sent: float) -> bool:
        if await self.calls.write(lease):
            self.renewed_at = sent
            self._observed = None
            return True
        return False

    def _lease(
        self, current: Mapping[str, Any] | None, transitions: int, acquired: Any = None
    ) -> dict[str, Any]:
        now = datetime.datetime.now(datetime.UTC)
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if current is not None:
            metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": round(self.timing.lease_duration),
            "acquireTime": acquired or now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}

    async def acquire(self) -> None:
        """Try until this replica holds the Lease (a standby spends its life here)."""
        while not await self._try():
            await asyncio.sleep(self.timing.retry_period * (1 + random.random() * JITTER))

    async def hold(self) -> None:
        """Renew every retry period; return when the Lease is lost (taken, or not renewed in time)."""
        while True:
            await asyncio.sleep(self.timing.retry_period)
            if self.renewed_at is None:
                return
            left = self.timing.renew_deadline - (self.clock() - self.renewed_at)
            try:
                async with asyncio.timeout(max(0.1, left)):  # not wait_for: it can swallow a cancel
                    renewed = await self._try()
            except TimeoutError:
                renewed = False
            if not renewed and (self.renewed_at is None or not self.leading):
                return

    async def _try(self) -> bool:
        try:
            return await self.try_acquire_or_renew()
        except Exception as error:
            logger.warning("Lease %s/%s: %s", self.namespace, self.name, error)
            return False


def fence(elector: Elector, stop: threading.Event, end: Callable[[int], None] = os._exit) -> None:
    """The watchdog (its own thread): end the process once the holder stops renewing in time."""
    while not stop.wait(0.2):
        if elector.renewed_at is not None and not elector.leading:
            logger.critical("Lost the Lease %s/%s: stopping at once", elector.namespace, elector.name)
            logging.shutdown()
            end(FENCED_EXIT)
            return


@dataclasses.dataclass
class Leadership:
    """This replica holds the Lease: the renewing task and the watchdog, until `step_down`."""

    elector: Elector
    holding: asyncio.Task[None]
    disarm: threading.Event


def elector_from(settings: Settings, calls: LeaseCalls) -> Elector:
    identity = settings.leader_election_identity or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    timing = Timing(
        settings.lease_duration_seconds, settings.renew_deadline_seconds, settings.retry_period_seconds
    )
    namespace, name = settings.leader_election_namespace, settings.leader_election_lease
    return Elector(namespace=namespace, name=name, identity=identity, calls=calls, timing=timing)


async def lead(settings: Settings, calls: LeaseCalls) -> Leadership | None:
    """Wait as a standby (answering the health probes) until this replica holds the Lease; None
    when leader election is off (SCENEFARM_LEADER_ELECTION_LEASE unset)."""
    if not settings.leader_election_lease:
        return None
    elector = elector_from(settings, calls)
    logger.info("Standing by for the Lease %s/%s as %s", elector.namespace, elector.name, elector.identity)
    async with _standby_health(settings.health_port):
        await elector.acquire()
    logger.info("Acquired the Lease %s/%s: this replica is active", elector.namespace, elector.name)
    disarm = threading.Event()
    threading.Thread(target=fence, args=(elector, disarm), name="lease-fence", daemon=True).start()
    holding = asyncio.create_task(_hold_or_fence(elector, disarm), name="lease-renewal")
    return Leadership(elector, holding, disarm)


async def _hold_or_fence(elector: Elector, disarm: threading.Event) -> None:
    await elector.hold()
    if not disarm.is_set():  # lost while acting (taken by another replica): stop now
        logger.critical("Lost the Lease %s/%s: stopping at once", elector.namespace, elector.name)
        logging.shutdown()
        os._exit(FENCED_EXIT)


async def step_down(leadership: Leadership | None) -> None:
    """After kopf stopped every handler: stop renewing and release the Lease."""
    if leadership is None:
        return
    leadership.disarm.set()
    leadership.holding.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await leadership.holding
    try:
        await leadership.elector.release()
    except Exception as error:
        logger.warning("Could not release the Lease (it expires by itself): %s", error)


@contextlib.asynccontextmanager
async def _standby_health(port: int) -> Any:
    """While standing by, the liveness and readiness probes get 200 (kopf serves them once active)."""
    if not port:
        yield
        return
    app = web.Application()
    app.router.add_get("/{tail:.*}", _standby_answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def _standby_answer(_: web.Request) -> web.Response:
    return web.json_response({"standby": True})
