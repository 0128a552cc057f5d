"""One backoff policy type for everything the operator tries again: planner outages, fix calls,
transient scene failures and API errors of the reconcile loop."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from scenefarm_contract.clock import iso


@dataclasses.dataclass(frozen=True)
class Backoff:
    """base, base·factor, base·factor², ... capped at `cap`; `tries` retries, then give up."""

    base: float
    factor: float = 2.0
    cap: float = 300.0
    tries: int | None = None  # None: never give up (the loop's API errors)

    def delay(self, retries_used: int) -> float:
        return float(min(self.cap, self.base * self.factor ** max(retries_used, 0)))

    def exhausted(self, retries_used: int) -> bool:
        return self.tries is not None and retries_used >= self.tries


def planner_outages(base_seconds: float = 15.0) -> Backoff:
    """Planner outages (plan and fix calls): base, 2·base, ... 16·base, then the call fails for good."""
    return Backoff(base=base_seconds, cap=16 * base_seconds, tries=5)


def after_outage(
    record: Mapping[str, Any], error: str, now: datetime.datetime, policy: Backoff, *, gave_up: str
) -> dict[str, Any]:
    """The persisted bookkeeping of a call that met one more outage (`status.planning`, or a
    `status.healing` record): the next try (`nextAttemptAt`), or, once `policy` is exhausted,
    the `error` that ends it (`gave_up`)."""
    outages = int(record.get("outages") or 0)
    if policy.exhausted(outages):
        return {"outages": outages + 1, "error": gave_up}
    at = now + datetime.timedelta(seconds=policy.delay(outages))
    return {"outages": outages + 1, "nextAttemptAt": iso(at), "message": error}


PLANNER_OUTAGES = planner_outages()  # with the default SCENEFARM_PLANNER_RETRY_BASE_SECONDS
# Reconcile passes that met an API error: 0.5 s doubling to 10 s, for as long as it takes.
API_ERRORS = Backoff(base=0.5, cap=10.0)
