"""The one timestamp parser (`scenefarm_contract.clock.parse_time`) and the API's format (`iso`)."""

from __future__ import annotations

import datetime

import pytest

from scenefarm_contract.clock import EPOCH, iso, parse_time

UTC = datetime.UTC
MOMENT = datetime.datetime(2026, 12, 7, 5, 14, 41, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-07T05:14:41Z", MOMENT),  # Kubernetes' metav1.Time
        ("2026-12-07T05:14:41+00:00", MOMENT),
        ("2026-12-07T06:14:41+01:00", MOMENT),  # aware, another offset: the same instant
        ("2026-12-07T05:14:41.250+00:00", MOMENT.replace(microsecond=250_000)),  # Appwrite
        ("2026-12-07T05:14:41", MOMENT),  # naive: taken as UTC
        ("2026-12-07", datetime.datetime(2026, 12, 7, tzinfo=UTC)),
    ],
)
def test_a_timestamp_is_read_as_an_aware_datetime(text: str, expected: datetime.datetime) -> None:
    moment = parse_time(text)
    assert moment == expected
    assert moment is not None and moment.tzinfo is not None


@pytest.mark.parametrize(
    "value",
    [None, "", "yesterday", "2026-13-40T99:00:00Z", "2026-12-07T05:14:41ZZ", 1765084481, b"2026-12-07"],
)
def test_anything_else_is_none(value: object) -> None:
    assert parse_time(value) is None


def test_iso_writes_what_parse_time_reads() -> None:
    later = datetime.datetime(
        2026, 12, 7, 6, 14, 41, 999_000, tzinfo=datetime.timezone(datetime.timedelta(hours=1))
    )
    assert iso(later) == "2026-12-07T05:14:41Z"
    assert parse_time(iso(later)) == MOMENT
    assert parse_time(iso(EPOCH)) == EPOCH
