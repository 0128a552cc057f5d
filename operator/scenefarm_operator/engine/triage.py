"""Decide what happens after a scene attempt failed: fix the code, retry, add memory, or give up.

Pure: a function of the failed attempt and the limits, no I/O, no clock. The operator records
the facts (exit class from the termination message, Pod reason, counters) and acts on the
decision. Rules, in order:

- OOMKilled (Pod reason, or exit 137) -> `RetryWithMoreMemory` with the memory limit doubled, up to
  the operator's cap; at the cap (or with no limit to double) -> `Fail`.
- 20 environment -> `Fail`: the image is broken; never sent to the LLM, retrying will not help.
- 30 transient, or a Pod evicted -> `RetryAsIs` with exponential backoff, a bounded number of times.
- 10 code rejected / 11 code raised -> `Fix` in Gemini mode while fix attempts are left; else `Fail`.
- anything else (deadline exceeded, unknown exit) -> `Fail`.

Narration fails in the combine, never in a scene, so it never reaches these rules or the LLM: a TTS
engine that is missing or breaks (espeak-ng absent, an unknown voice, malformed Gemini audio) ends
the combine with exit class 20, which its Job's podFailurePolicy fails at once; a Gemini speech
outage is retried inside the renderer with the contract's backoff, then spoken Offline when
`spec.narration.fallbackToOffline` allows, else exit class 30, which the Job retries.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from lightkube.utils.quantity import parse_quantity

from scenefarm_contract.backoff import Backoff
from scenefarm_contract.renderer import ExitClass

FIXING_MODES = frozenset({"Gemini"})
_BINARY_UNITS = (("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024))
_TAIL_CHARS = 300  # of the error tail quoted in a Fail message; the full tail is in the Pod status


@dataclasses.dataclass(frozen=True)
class FailedAttempt:
    """What the operator knows about one failed scene attempt."""

    exit_class: ExitClass | None  # from the termination message / exit code; None if unknown
    pod_reason: str | None = None  # the container's terminated reason, e.g. OOMKilled
    error_tail: str = ""
    planner_mode: str = "Template"
    fix_attempts_used: int = 0
    fix_attempts_allowed: int = 2  # spec.render.fixAttempts
    transient_retries_used: int = 0
    memory_limit: str | None = None  # the scene container's current limits.memory


@dataclasses.dataclass(frozen=True)
class TriageLimits:
    memory_cap: str = "8Gi"  # Settings.oom_memory_cap
    max_transient_retries: int = 3
    base_delay_seconds: float = 10.0
    max_delay_seconds: float = 300.0


@dataclasses.dataclass(frozen=True)
class Fix:
    """Send the code and `error_tail` to the planner's `fix()`, then render the new code."""

    reason: str


@dataclasses.dataclass(frozen=True)
class RetryAsIs:
    delay_seconds: float
    reason: str


@dataclasses.dataclass(frozen=True)
class RetryWithMoreMemory:
    new_limit: str  # a Kubernetes quantity for limits.memory (and requests, if higher)
    reason: str


@dataclasses.dataclass(frozen=True)
class Fail:
    message: str  # for the scene's status and the VideoRequest's conditions


Decision = Fix | RetryAsIs | RetryWithMoreMemory | Fail


def triage(attempt: FailedAttempt, limits: TriageLimits = TriageLimits()) -> Decision:
    """The next step for a failed scene attempt."""
    if attempt.exit_class is ExitClass.OK:
        raise ValueError("an attempt that exited 0 did not fail")
    if attempt.pod_reason == "OOMKilled" or attempt.exit_class is ExitClass.OOM_KILLED:
        return _out_of_memory(attempt, limits)
    if attempt.exit_class is ExitClass.ENVIRONMENT:
        broken = "the renderer's environment is broken (exit 20: missing fonts, LaTeX or a bad image)"
        return Fail(_with_tail(f"{broken}; check SCENEFARM_RENDERER_IMAGE", attempt))
    if attempt.exit_class is ExitClass.TRANSIENT or attempt.pod_reason == "Evicted":
        return _transient(attempt, limits)
    if attempt.exit_class is not None and attempt.exit_class.fixable:
        return _fixable(attempt)
    if attempt.pod_reason == "DeadlineExceeded":
        return Fail(
            "the scene ran longer than spec.render.activeDeadlineSeconds; raise it or shorten the scene"
        )
    what = f"exit class {int(attempt.exit_class)}" if attempt.exit_class is not None else "an unknown exit"
    reason = f" ({attempt.pod_reason})" if attempt.pod_reason else ""
    return Fail(_with_tail(f"the scene failed with {what}{reason}", attempt))


def backoff(retries_used: int, limits: TriageLimits) -> float:
    """base, 2·base, 4·base, ... capped: spreads retries while storage or the network recovers."""
    return Backoff(base=limits.base_delay_seconds, cap=limits.max_delay_seconds).delay(retries_used)


def _transient(attempt: FailedAttempt, limits: TriageLimits) -> Decision:
    used = attempt.transient_retries_used
    if used >= limits.max_transient_retries:
        return Fail(
            _with_tail(
                f"the scene failed transiently {used + 1} times (storage or network); giving up", attempt
            )
        )
    return RetryAsIs(
        backoff(used, limits), reason=f"transient failure, retry {used + 1} of {limits.max_transient_retries}"
    )


def _fixable(attempt: FailedAttempt) -> Decision:
    assert attempt.exit_class is not None
    kind = "was rejected (exit 10)" if attempt.exit_class is ExitClass.CODE_REJECTED else "raised (exit 11)"
    if attempt.planner_mode not in FIXING_MODES:
        return Fail(
            _with_tail(
                f"the scene code {kind}; planner mode {attempt.planner_mode} does not rewrite code", attempt
            )
        )
    used, allowed = attempt.fix_attempts_used, attempt.fix_attempts_allowed
    if used >= allowed:
        return Fail(_with_tail(f"the scene code {kind} after {used} of {allowed} fix attempts", attempt))
    return Fix(reason=f"the scene code {kind}; fix attempt {used + 1} of {allowed}")


def _out_of_memory(attempt: FailedAttempt, limits: TriageLimits) -> Decision:
    current = parse_quantity(attempt.memory_limit) if attempt.memory_limit else None
    cap = parse_quantity(limits.memory_cap)
    if current is None or cap is None:
        return Fail(
            "the scene was OOMKilled with no memory limit to raise; set spec.render.resources.limits.memory"
        )
    if current >= cap:
        return Fail(
            f"the scene was OOMKilled at {attempt.memory_limit}, the operator's cap ({limits.memory_cap}); "
            "lower the quality or simplify the scene"
        )
    new_limit = format_quantity(min(current * 2, cap))
    return RetryWithMoreMemory(
        new_limit, reason=f"OOMKilled at {attempt.memory_limit}; retrying with {new_limit}"
    )


def format_quantity(value: Decimal) -> str:
    """Bytes as the largest binary unit that divides them exactly (`2Gi`, `1536Mi`, `1000`)."""
    whole = int(value)
    for suffix, size in _BINARY_UNITS:
        if whole % size == 0:
            return f"{whole // size}{suffix}"
    return str(whole)


def _with_tail(message: str, attempt: FailedAttempt) -> str:
    tail = attempt.error_tail.strip()
    if not tail:
        return message
    if len(tail) > _TAIL_CHARS:
        tail = "…" + tail[-_TAIL_CHARS:]
    return f"{message}: {tail}"
