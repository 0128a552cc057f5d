"""Which log lines a pods/log request gets, and their timestamps (`--since`, `--timestamps`, `--tail`).

The Job runner records when each part of a log appeared (`container.log.times`: `<offset>
<RFC 3339 time>` lines, to within its poll period); a line's time is that of the last record at or
before the line's first byte. Lines before any record (a log from before the runner kept times)
take the log file's modification time. Timestamps are printed as the kubelet prints them
(RFC 3339 with nanoseconds, then a space).
"""

from __future__ import annotations

import bisect
import datetime
from collections.abc import Mapping
from pathlib import Path

from scenefarm_devkit.apiserver import errors

TIMES_SUFFIX = ".times"


def _parse_time(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def since(query: Mapping[str, str], now: datetime.datetime | None = None) -> datetime.datetime | None:
    """The cut-off of `sinceSeconds` or `sinceTime` (the real server refuses both at once)."""
    seconds, moment = query.get("sinceSeconds"), query.get("sinceTime")
    if seconds and moment:
        raise errors.BadRequest("at most one of sinceTime or sinceSeconds may be specified")
    try:
        if seconds:
            if int(seconds) < 1:
                raise errors.BadRequest("sinceSeconds: Invalid value: must be greater than 0")
            return (now or datetime.datetime.now(datetime.UTC)) - datetime.timedelta(seconds=int(seconds))
        return _parse_time(moment) if moment else None
    except ValueError as exc:
        raise errors.BadRequest(f"invalid since parameter: {exc}") from exc


def stamp(moment: datetime.datetime) -> bytes:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z ").encode()


def _times(log: Path) -> tuple[list[int], list[datetime.datetime]]:
    offsets: list[int] = []
    moments: list[datetime.datetime] = []
    try:
        text = log.with_name(log.name + TIMES_SUFFIX).read_text(encoding="utf-8")
    except OSError:
        return offsets, moments
    for line in text.splitlines():
        offset, _, moment = line.partition(" ")
        try:
            offsets.append(int(offset))
            moments.append(_parse_time(moment))
        except ValueError:
            continue
    return offsets, moments


def select(
    log: Path | None, *, cutoff: datetime.datetime | None, tail: int | None, timestamps: bool
) -> bytes:
    """The log's lines from `cutoff` on, the last `tail` of them, stamped if asked."""
    if log is None or not log.is_file():
        return b""
    data = log.read_bytes()
    if cutoff is None and not timestamps:
        return _tail(data.splitlines(keepends=True), tail)
    offsets, moments = _times(log)
    fallback = datetime.datetime.fromtimestamp(log.stat().st_mtime, datetime.UTC)
    lines: list[bytes] = []
    position = 0
    for line in data.splitlines(keepends=True):
        index = bisect.bisect_right(offsets, position) - 1
        moment = moments[index] if index >= 0 else fallback
        position += len(line)
        if cutoff is None or moment >= cutoff:
            lines.append(stamp(moment) + line if timestamps else line)
    return _tail(lines, tail)


def _tail(lines: list[bytes], tail: int | None) -> bytes:
    if tail is None:
        return b"".join(lines)
    return b"".join(lines[-tail:]) if tail > 0 else b""
