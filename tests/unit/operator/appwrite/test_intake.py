"""The web intake's rules: which rows become VideoRequests, and what a refused user reads."""

from __future__ import annotations

import datetime
import re

import pytest

from scenefarm_operator.web.intake import Limits, check_quota, check_row, video_request
from scenefarm_operator.web.provenance import RowRefused, made_from, owner_of, request_name

NOW = datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.UTC)
DNS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ROW = {"$id": "6750c0ffee12345", "topic": "Newton's laws", "planner_mode": "Template", "quality": "low"}


def test_the_request_name_is_a_dns_label_derived_only_from_the_row_id() -> None:
    assert request_name("6750c0ffee12345") == "web-6750c0ffee12345"
    for row_id in ("Upper.Case_id", "abc-", "x" * 36):
        name = request_name(row_id)
        assert DNS.match(name) and len(name) <= 63 and name == request_name(row_id)
    assert request_name("AbC") != request_name("abc")


def test_the_owner_is_the_one_user_who_may_read_the_row() -> None:
    assert owner_of(['read("user:u1")', 'update("user:u1")', 'delete("user:u1")']) == "u1"
    for shared in (['read("any")', 'read("user:u1")'], ['read("user:u1")', 'read("user:u2")'], []):
        with pytest.raises(RowRefused, match="exactly one user"):
            owner_of(shared)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"topic": "  "}, "topic is empty"),
        ({"topic": "x" * 201}, "201 characters; at most 200"),
        ({"description": "y" * 2001}, "description has 2001 characters"),
        ({"planner_mode": "Gemini"}, "Planner 'Gemini' is not offered here; choose Template"),
        ({"quality": "fourk"}, "Quality 'fourk' is not offered here; choose low or medium"),
        ({"cancel_requested": True}, "Cancelled before it started"),
    ],
)
def test_a_row_outside_the_limits_is_refused_with_a_message_a_person_understands(change, message) -> None:
    with pytest.raises(RowRefused, match=re.escape(message)):
        check_row(ROW | change, Limits())


def test_per_user_limits_count_unfinished_requests_and_the_last_24_hours() -> None:
    def made(hours_ago: float, phase: str) -> dict:
        created = (NOW - datetime.timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z")
        return {"metadata": {"creationTimestamp": created}, "status": {"phase": phase}}

    check_quota([made(1, "Rendering"), made(30, "Succeeded")], Limits(max_active_per_user=2), NOW)
    with pytest.raises(RowRefused, match="2 videos in progress"):
        check_quota([made(1, "Rendering"), made(2, "Pending")], Limits(max_active_per_user=2), NOW)
    with pytest.raises(RowRefused, match="3 videos in the last 24 hours"):
        done = [made(h, "Succeeded") for h in (1, 5, 23)] + [made(25, "Failed")]
        check_quota(done, Limits(max_per_user_per_day=3), NOW)


def test_recorded_acceptances_count_in_the_day_and_a_request_in_both_counts_once() -> None:
    created = (NOW - datetime.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    live = {"metadata": {"name": "web-a", "creationTimestamp": created}, "status": {"phase": "Succeeded"}}
    check_quota([live], Limits(max_per_user_per_day=3), NOW, recorded=["web-a", "web-gone"])
    with pytest.raises(RowRefused, match="2 videos in the last 24 hours"):
        check_quota([live], Limits(max_per_user_per_day=2), NOW, recorded=["web-a", "web-gone"])
    with pytest.raises(RowRefused, match="2 videos in the last 24 hours"):  # deleted: only the ledger
        check_quota([], Limits(max_per_user_per_day=2), NOW, recorded=["web-a", "web-gone"])


def test_an_accepted_row_becomes_a_request_owned_by_its_user_in_the_appwrite_store() -> None:
    body = video_request(ROW | {"description": "three laws"}, "u1", "web", Limits(max_scenes=3))
    assert body["metadata"]["name"] == "web-6750c0ffee12345"
    assert body["metadata"]["namespace"] == "web"
    # Ownership is recorded on the request: the row it was made from and the user it was made for.
    assert body["metadata"]["annotations"] == {
        "scenefarm.dev/appwrite-row": "6750c0ffee12345",
        "scenefarm.dev/appwrite-owner": "u1",
    }
    assert body["metadata"]["labels"]["scenefarm.dev/appwrite-user"] == "u1"
    assert made_from(body, "6750c0ffee12345", "u1")
    assert not made_from(body, "6750c0ffee12345", "u2") and not made_from(body, "other", "u1")
    assert body["spec"] == {
        "topic": "Newton's laws",
        "description": "three laws",
        "planner": {"mode": "Template", "maxScenes": 3},
        "render": {"quality": "low"},
        "output": {"store": "Appwrite"},
        "owner": {"appwriteUserId": "u1"},
    }


def test_a_rows_batch_becomes_the_batch_label_when_it_is_a_label_value() -> None:
    body = video_request(ROW | {"batch": "b-lq2x9k"}, "u1", "web", Limits())
    assert body["metadata"]["labels"]["scenefarm.dev/batch"] == "b-lq2x9k"
    for bad in ("has space", "-x", "x" * 64, 7):
        labels = video_request(ROW | {"batch": bad}, "u1", "web", Limits())["metadata"]["labels"]
        assert "scenefarm.dev/batch" not in labels
