"""metav1.Condition bookkeeping, kstatus-compatible (Ready / Reconciling / Stalled).

`lastTransitionTime` changes only when a condition's status changes, so publishing the same
state twice writes the same conditions (and a status patch can be skipped).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scenefarm_contract.phases import FAILED, IN_PROGRESS, SUCCEEDED

# Cancelled is neither Ready nor Stalled: the user stopped it for good (Ready=False, not Stalled).


def condition(type_: str, ok: bool, reason: str, message: str, generation: int) -> dict[str, Any]:
    return {
        "type": type_,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
    }


def for_phase(
    phase: str, reason: str, message: str, generation: int, stalled: str = ""
) -> list[dict[str, Any]]:
    """The kstatus triple for a phase: Ready, Reconciling, Stalled.

    The message is said once, on Ready (what `kubectl wait` and `describe` readers look at);
    Reconciling and Stalled say only what they mean, so `describe` does not repeat it.
    `stalled`: why a request still in progress cannot go on by itself (a Pod the cluster
    cannot start, no progress past the estimate): Stalled=True with that message.
    """
    working = phase in IN_PROGRESS
    stuck = phase == FAILED or bool(stalled and working)
    return [
        condition("Ready", phase == SUCCEEDED, reason, message, generation),
        condition("Reconciling", working, reason, "working on it" if working else "finished", generation),
        condition("Stalled", stuck, reason, stalled if stalled and working else _stalled(phase), generation),
    ]


def _stalled(phase: str) -> str:
    if phase == FAILED:
        return "failed: see the Ready condition; edit the spec or retry (scenefarm retry) to continue"
    return "not stalled"


def merge(
    previous: Iterable[Mapping[str, Any]], desired: Iterable[Mapping[str, Any]], now: str
) -> list[dict[str, Any]]:
    """Desired conditions with lastTransitionTime carried over where the status did not change.

    Conditions of other types (e.g. AppwriteSynced) that `desired` does not mention are kept.
    """
    old = {c.get("type"): c for c in previous}
    merged: dict[str, dict[str, Any]] = {t: dict(c) for t, c in old.items() if isinstance(t, str)}
    for cond in desired:
        new = dict(cond)
        before = old.get(new["type"])
        same = before is not None and before.get("status") == new["status"]
        new["lastTransitionTime"] = (before or {}).get("lastTransitionTime", now) if same else now
        merged[new["type"]] = new
    return sorted(merged.values(), key=lambda c: str(c["type"]))
