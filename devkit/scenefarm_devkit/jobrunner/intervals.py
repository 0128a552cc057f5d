"""Sets of completion indexes as the Job API writes them: ordered intervals, "0-2,4" (pure).

As pkg/controller/job/indexed_job_utils.go: two neighbours are written "5,6", a longer run
"first-last"; parsing drops indexes at or above `completions` and skips corrupted parts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Interval = tuple[int, int]  # first, last (inclusive)


def parse_indexes(text: str | None, completions: int) -> list[Interval]:
    """Parse "1,3-5,7" into [(1, 1), (3, 5), (7, 7)]; indexes >= completions dropped, junk skipped."""
    result: list[Interval] = []
    for part in text.split(",") if text else []:
        first_text, _, last_text = part.partition("-")
        try:
            first = int(first_text)
            last = int(last_text) if last_text else first
        except ValueError:
            continue  # the controller logs "Corrupted indexes interval, ignoring"
        if first >= completions:
            break
        last = min(last, completions - 1)
        if result and result[-1][1] == first - 1:
            result[-1] = (result[-1][0], last)
        else:
            result.append((first, last))
    return result


def format_indexes(intervals: Sequence[Interval]) -> str:
    parts = []
    for first, last in intervals:
        if last == first:
            parts.append(str(first))
        elif last == first + 1:
            parts.append(f"{first},{last}")
        else:
            parts.append(f"{first}-{last}")
    return ",".join(parts)


def merge(intervals: Sequence[Interval], others: Sequence[Interval]) -> list[Interval]:
    """The union of two ordered interval lists, neighbours joined."""
    result: list[Interval] = []
    for first, last in sorted([*intervals, *others]):
        if result and first <= result[-1][1] + 1:
            result[-1] = (result[-1][0], max(result[-1][1], last))
        else:
            result.append((first, last))
    return result


def with_indexes(intervals: Sequence[Interval], indexes: Iterable[int]) -> list[Interval]:
    return merge(intervals, [(i, i) for i in sorted(set(indexes))])


def total(intervals: Sequence[Interval]) -> int:
    return sum(last - first + 1 for first, last in intervals)


def has(intervals: Sequence[Interval], index: int) -> bool:
    return any(first <= index <= last for first, last in intervals)


def pending_indexes(count: int, completions: int, busy: Iterable[int], done: Sequence[Interval]) -> list[int]:
    """The first `count` indexes below `completions` neither busy (running, terminating) nor done."""
    taken = with_indexes(done, busy)
    result: list[int] = []
    candidate = 0
    while candidate < completions and len(result) < count:
        if has(taken, candidate):
            candidate = next(last for first, last in taken if first <= candidate <= last) + 1
            continue
        result.append(candidate)
        candidate += 1
    return result
