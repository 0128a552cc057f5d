"""The web intake's rules: a request row a signed-in user created -> one VideoRequest, or a
refusal a person understands. Pure: no I/O (`intake_loop` reads rows and talks to Kubernetes).

A request row is a `videos` row with `status: queued` and no `k8s_uid` yet. Its owner is the
one user its permissions let read it (the Web SDK's default for a user's new row); the
VideoRequest is named from the row id, so a restart or a second operator never makes two,
and it is annotated with the row id, so the mirror writes progress into that same row.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .rows import ROW_ANNOTATION

INTAKE_LABEL = "scenefarm.dev/intake"  # value "appwrite": made from an Appwrite request row
USER_LABEL = "scenefarm.dev/appwrite-user"  # the owner (label-safe), for per-user limits
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
READ_USER = re.compile(r'^read\("user:([^"/]+)"\)$')
DAY = datetime.timedelta(days=1)
TERMINAL = ("Succeeded", "Failed", "Cancelled")


@dataclasses.dataclass(frozen=True)
class Limits:
    planner_modes: tuple[str, ...] = ("Template",)
    qualities: tuple[str, ...] = ("low", "medium")
    max_active_per_user: int = 2
    max_per_user_per_day: int = 20
    max_topic_length: int = 200
    max_description_length: int = 2000
    max_scenes: int = 6

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(
            planner_modes=tuple(settings.intake_planner_modes),
            qualities=tuple(settings.intake_qualities),
            max_active_per_user=settings.intake_max_active_per_user,
            max_per_user_per_day=settings.intake_max_per_user_per_day,
            max_topic_length=settings.intake_max_topic_length,
            max_description_length=settings.intake_max_description_length,
            max_scenes=settings.intake_max_scenes,
        )


class Refused(Exception):
    """The row becomes `failed` with this message; nothing is created in Kubernetes."""


def request_name(row_id: str) -> str:
    """`web-<row id>` when the id is already a DNS label; else `web--<hash>` (a row id never
    starts with `-`, so the two forms cannot collide)."""
    if DNS_LABEL.match(row_id) and len(row_id) <= 50:
        return f"web-{row_id}"
    return "web--" + hashlib.sha256(row_id.encode()).hexdigest()[:24]


def label_value(user_id: str) -> str:
    if LABEL_VALUE.match(user_id) and len(user_id) <= 63:
        return user_id
    return "h-" + hashlib.sha256(user_id.encode()).hexdigest()[:40]


def owner_of(permissions: Iterable[str]) -> str:
    """The one user who may read the row; anything else is not a request we can attribute."""
    reads = [p for p in permissions if p.startswith("read(")]
    users = {m.group(1) for p in reads if (m := READ_USER.match(p))}
    if len(users) != 1 or len(reads) != len([p for p in reads if READ_USER.match(p)]):
        raise Refused(
            "This request row must be readable by exactly one user, its creator: create it from the "
            "page (the Web SDK's default permissions do that)."
        )
    return users.pop()


def check_row(row: Mapping[str, Any], limits: Limits) -> None:
    """What the user chose, against the limits in the Helm values."""
    topic = str(row.get("topic") or "").strip()
    if not topic:
        raise Refused("The topic is empty: say what the video should explain.")
    if len(topic) > limits.max_topic_length:
        raise Refused(
            f"The topic has {len(topic)} characters; at most {limits.max_topic_length} are allowed."
        )
    description = str(row.get("description") or "")
    if len(description) > limits.max_description_length:
        raise Refused(
            f"The description has {len(description)} characters; "
            f"at most {limits.max_description_length} are allowed."
        )
    mode = row.get("planner_mode") or limits.planner_modes[0]
    if mode not in limits.planner_modes:
        raise Refused(f"Planner {mode!r} is not offered here; choose {' or '.join(limits.planner_modes)}.")
    quality = row.get("quality") or limits.qualities[0]
    if quality not in limits.qualities:
        raise Refused(f"Quality {quality!r} is not offered here; choose {' or '.join(limits.qualities)}.")
    if row.get("cancel_requested"):
        raise Refused("Cancelled before it started.")


def check_quota(requests: Iterable[Mapping[str, Any]], limits: Limits, now: datetime.datetime) -> None:
    """`requests`: the user's VideoRequests (from Kubernetes, the source of truth)."""
    active = today = 0
    for request in requests:
        if ((request.get("status") or {}).get("phase")) not in TERMINAL:
            active += 1
        created = parse_time((request.get("metadata") or {}).get("creationTimestamp"))
        if created is not None and now - created < DAY:
            today += 1
    if active >= limits.max_active_per_user:
        raise Refused(
            f"You have {active} videos in progress, the most allowed at once; "
            "wait for one to finish or cancel one."
        )
    if today >= limits.max_per_user_per_day:
        raise Refused(
            f"You have asked for {today} videos in the last 24 hours, the most allowed; try again later."
        )


def parse_time(value: object) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def video_request(row: Mapping[str, Any], owner: str, namespace: str, limits: Limits) -> dict[str, Any]:
    """The VideoRequest for an accepted row (the row passed `check_row`)."""
    row_id = str(row["$id"])
    spec: dict[str, Any] = {
        "topic": str(row.get("topic") or "").strip(),
        "planner": {
            "mode": row.get("planner_mode") or limits.planner_modes[0],
            "maxScenes": limits.max_scenes,
        },
        "render": {"quality": row.get("quality") or limits.qualities[0]},
        # A browser can only fetch what is in Appwrite Storage.
        "output": {"store": "Appwrite"},
        "owner": {"appwriteUserId": owner},
    }
    if row.get("description"):
        spec["description"] = str(row["description"])
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {
            "name": request_name(row_id),
            "namespace": namespace,
            "labels": {INTAKE_LABEL: "appwrite", USER_LABEL: label_value(owner)},
            "annotations": {ROW_ANNOTATION: row_id},
        },
        "spec": spec,
    }


def accepted_data(body: Mapping[str, Any]) -> dict[str, Any]:
    """What an accepted row is updated with at once: the original schema's `planning` (the
    worker has it; the old system wrote the same when its worker picked a row up)."""
    metadata = body["metadata"]
    return {
        "status": "planning",
        "phase": "Pending",
        "k8s_namespace": metadata["namespace"],
        "k8s_name": metadata["name"],
    }


def refusal_data(message: str, phase: str = "Failed") -> dict[str, Any]:
    """What a refused row is updated with (original columns first, then the extra ones)."""
    return {"status": "failed", "error_message": message, "phase": phase}
