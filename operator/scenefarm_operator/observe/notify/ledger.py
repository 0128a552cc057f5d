"""The delivery ledger: per event id, attempts made, when to try next, and how it ended.

Pure. It is stored as JSON in the VideoRequest's annotation `scenefarm.dev/notifications`, written
after every attempt, so a restarted operator resumes each event where it was (at-least-once:
an attempt cut off by a crash before its record is sent again; the id lets receivers drop it).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_contract import keys
from scenefarm_contract.backoff import Backoff

ANNOTATION = keys.NOTIFICATIONS_ANNOTATION
MAX_BACKOFF_SECONDS = 300.0
KEPT_FINISHED = 30  # finished entries kept so a re-listed status does not send them again
PENDING, DELIVERED, ABANDONED, REFUSED = "pending", "delivered", "abandoned", "refused"


@dataclasses.dataclass(frozen=True)
class Entry:
    type: str
    attempts: int = 0
    next: float = 0.0  # epoch seconds of the next attempt
    result: str = PENDING
    error: str = ""


Ledger = dict[str, Entry]


def load(annotations: Mapping[str, str] | None) -> Ledger:
    raw = (annotations or {}).get(ANNOTATION)
    if not raw:
        return {}
    try:
        return {key: Entry(**value) for key, value in json.loads(raw).items()}
    except (AttributeError, TypeError, ValueError):
        return {}  # a mangled annotation: start over (at-least-once allows sending again)


def dump(ledger: Ledger) -> str:
    finished = [k for k, e in ledger.items() if e.result != PENDING]
    dropped = set(finished[:-KEPT_FINISHED]) if len(finished) > KEPT_FINISHED else set()
    kept = {k: dataclasses.asdict(e) for k, e in ledger.items() if k not in dropped}
    return json.dumps(kept, separators=(",", ":"))


def backoff(attempts: int, base: float) -> float:
    """Before the next try after `attempts` failed ones: base, 2·base, ... up to MAX_BACKOFF_SECONDS."""
    return Backoff(base=base, cap=MAX_BACKOFF_SECONDS).delay(attempts - 1)


def due_now(ledger: Ledger, ids: Sequence[str], now: float) -> tuple[list[str], float | None]:
    """Ids to send now (new or whose retry is due) and seconds until the next one (None: none)."""
    ready, wait = [], None
    for key in ids:
        entry = ledger.get(key)
        if entry is None or (entry.result == PENDING and entry.next <= now):
            ready.append(key)
        elif entry.result == PENDING:
            wait = entry.next - now if wait is None else min(wait, entry.next - now)
    return ready, wait


def recorded(
    ledger: Ledger,
    key: str,
    kind: str,
    *,
    ok: bool,
    error: str,
    now: float,
    max_attempts: int,
    base: float,
    final: bool = False,
) -> tuple[Ledger, Entry]:
    """The ledger after one attempt; `final` ends the event at once (a refused destination)."""
    before = ledger.get(key) or Entry(type=kind)
    attempts = before.attempts + 1
    if ok:
        entry = Entry(kind, attempts, 0.0, DELIVERED, "")
    elif final:
        entry = Entry(kind, attempts, 0.0, REFUSED, error[:300])
    elif attempts >= max_attempts:
        entry = Entry(kind, attempts, 0.0, ABANDONED, error[:300])
    else:
        entry = Entry(kind, attempts, now + backoff(attempts, base), PENDING, error[:300])
    return {**ledger, key: entry}, entry


def summary(ledger: Ledger) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for entry in ledger.values():
        counts[entry.result] = counts.get(entry.result, 0) + 1
    return counts
