"""What a reconcile pass may do, as values: the decider returns them, the loop performs them.

Planner calls (`AskPlan`, `Replan`, `AskFix`) are effects whose answer is stored (a plan
ConfigMap revision, or the planner bookkeeping in the status) before anything depends on it:
the loop performs them alone and starts a new pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from scenefarm_operator.engine.triage import FailedAttempt


@dataclasses.dataclass(frozen=True)
class AskPlan:
    """Plan the scenes and store the plan ConfigMap; `retry`: the retry generation this serves."""

    retry: int | None = None


@dataclasses.dataclass(frozen=True)
class Replan:
    """The spec changed (generation): re-plan deterministic modes, store changed scenes' revisions."""

    generation: int


@dataclasses.dataclass(frozen=True)
class AskFix:
    """Ask the planner for new code for the failed attempt of one scene; store it as a revision."""

    index: int
    attempt: int
    facts: FailedAttempt
    reason: str


@dataclasses.dataclass(frozen=True)
class CreateJob:
    job: Mapping[str, Any]
    event: tuple[str, str] | None = None  # (reason, message) to post when it was really created


@dataclasses.dataclass(frozen=True)
class DeleteJob:
    name: str


@dataclasses.dataclass(frozen=True)
class SuspendJob:
    name: str
    suspend: bool


@dataclasses.dataclass(frozen=True)
class RecordResult:
    """Copy a finished Job's deciding Pod end onto the Job (the Pod may be collected any time)."""

    name: str
    end: str  # JSON: exitCode, reason, message (the renderer's termination message), finishedAt


@dataclasses.dataclass(frozen=True)
class PostEvent:
    """An Event on the VideoRequest (decided once: when what it reports first appears)."""

    reason: str
    message: str
    warning: bool = True


@dataclasses.dataclass(frozen=True)
class DeleteRequest:
    """spec.ttlSecondsAfterFinished ran out: delete the VideoRequest (children go by ownerReference)."""


Effect = (
    AskPlan | Replan | AskFix | CreateJob | DeleteJob | SuspendJob | RecordResult | PostEvent | DeleteRequest
)
PLANNER_CALLS = (AskPlan, Replan, AskFix)


def planner_calls(effects: tuple[Effect, ...]) -> tuple[Effect, ...]:
    return tuple(e for e in effects if isinstance(e, PLANNER_CALLS))
