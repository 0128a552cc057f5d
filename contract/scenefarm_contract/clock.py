"""Time on the wire, in one place: the API's timestamp format and the one parser of it.

Kubernetes writes `metav1.Time` as RFC 3339 in UTC with whole seconds (`2026-12-07T05:14:41Z`);
Appwrite writes ISO 8601 with an offset and milliseconds. `parse_time` reads both (and any other
`datetime.fromisoformat` spelling) and answers None for anything that is not a timestamp.
"""

from __future__ import annotations

import datetime

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def iso(moment: datetime.datetime) -> str:
    """The API's timestamp format (RFC 3339, UTC, whole seconds)."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> datetime.datetime | None:
    """A timestamp as an aware datetime (naive ones are taken as UTC); None when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)
