"""Fault injection for the resilience suite: deterministic, seeded failures of chosen requests."""

from __future__ import annotations

import dataclasses
import random

from scenefarm_devkit.apiserver.errors import ApiError, Conflict, InternalError

DEFAULT_WRITE_VERBS = frozenset({"create", "update", "patch", "delete"})


class TooManyRequests(ApiError):
    code = 429
    reason = "TooManyRequests"


class ServiceUnavailable(ApiError):
    code = 503
    reason = "ServiceUnavailable"


_ERRORS: dict[int, type[ApiError]] = {
    409: Conflict,
    429: TooManyRequests,
    500: InternalError,
    503: ServiceUnavailable,
}


@dataclasses.dataclass
class FaultRule:
    """Fail a request with `status` if it matches, with `probability`, reproducibly from `seed`.

    Empty `identities`/`resources` match every client/resource; `limit` bounds how many faults fire.
    """

    verbs: frozenset[str] | set[str] = DEFAULT_WRITE_VERBS
    probability: float = 1.0
    status: int = 500
    seed: int = 0
    identities: frozenset[str] | set[str] = frozenset()
    resources: frozenset[str] | set[str] = frozenset()
    limit: int | None = None
    # Apply the write, then drop the connection without an answer: the client sees a reset (as
    # after a timeout) and cannot know whether its write landed.
    lose_answer: bool = False
    fired: int = 0
    _rng: random.Random = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def check(self, verb: str, resource: str, identity: str) -> ApiError | None:
        if verb not in self.verbs:
            return None
        if self.identities and identity not in self.identities:
            return None
        if self.resources and resource not in self.resources:
            return None
        if self.limit is not None and self.fired >= self.limit:
            return None
        if self._rng.random() >= self.probability:
            return None
        self.fired += 1
        error = _ERRORS.get(self.status, InternalError)
        return error(f"injected fault ({self.status}) for {verb} {resource} by {identity}")
