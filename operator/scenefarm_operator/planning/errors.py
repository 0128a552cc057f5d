"""Why planning failed, in a hierarchy the operator can turn into status conditions.

    PlanningError                 anything the planning layer raises on purpose
     ├── PlannerUnavailable       the planner cannot be reached or is not configured (retry later)
     │    └── PlannerBusy         down, overloaded or rate-limited right now: the operator retries
     ├── InvalidPlan              the planner's output (or the user's scenes) break the contract
     └── FixNotSupported          this planning mode cannot rewrite scene code

Every message is written for a person reading `kubectl describe vr`: it says what is wrong
and what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence


class PlanningError(Exception):
    """A planning failure with a message a person can act on."""


class PlannerUnavailable(PlanningError):
    """No API key, the service is down or rate-limited beyond our retries: try again later."""


class PlannerBusy(PlannerUnavailable):
    """The service answered 429/5xx or could not be reached after the client's own retries."""


class InvalidPlan(PlanningError):
    """A plan that must not be rendered; `errors` names the offending scenes."""

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        self.errors = tuple(errors)
        details = "".join(f"\n  - {e}" for e in self.errors)
        super().__init__(f"{message}{details}")


class FixNotSupported(PlanningError):
    """The planning mode (Explicit, Template) has no way to rewrite failing code."""
