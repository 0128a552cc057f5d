"""The VideoRequest's kstatus conditions as its readers (the CLI, the web rows) read them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from scenefarm_contract import phases

STALLED: Final = "Stalled"  # True while a request in progress cannot go on by itself


def stall_of(phase: str | None, status: Mapping[str, Any]) -> str | None:
    """Why a request still in progress cannot go on by itself (its `Stalled=True` condition, as
    `Reason: message`), or None. A finished request is never reported here: its ending says why."""
    if (phase or phases.PENDING) in phases.TERMINAL:
        return None
    for condition in status.get("conditions") or ():
        if condition.get("type") == STALLED and condition.get("status") == "True":
            reason, message = condition.get("reason") or STALLED, condition.get("message") or ""
            return f"{reason}: {message}" if message else str(reason)
    return None
