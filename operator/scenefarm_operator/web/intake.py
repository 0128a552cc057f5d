"""The web intake's rules: a request row a signed-in user created -> one VideoRequest, or a
refusal a person understands. Pure: no I/O (`intake_loop` reads rows and talks to Kubernetes).

A request row is a `videos` row with `status: queued` and no `k8s_uid` yet. Its owner is the
one user its permissions let read it (the Web SDK's default for a user's new row); the
VideoRequest is named from the row id, so a restart or a second operator never makes two,
and it is annotated with the row id and its owner, so the mirror writes progress into that same
row and the intake acts on a VideoRequest only when it was made from that row for that user
(`provenance.made_from`): a name collision or a forged row is refused, never obeyed.

A row is untrusted input from anyone with a session: every field is checked for its type, for
text that is valid Unicode without control characters, and for columns only the operator writes.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from scenefarm_contract import keys, phases
from scenefarm_contract.clock import parse_time
from scenefarm_operator.engine.lifecycle import pending_retry
from scenefarm_operator.web.layout import ROW_FAILED, ROW_PLANNING, ROW_QUEUED
from scenefarm_operator.web.provenance import (
    INTAKE_LABEL,
    INTAKE_SOURCE,
    LABEL_VALUE,
    OWNER_ANNOTATION,
    ROW_ANNOTATION,
    USER_LABEL,
    RowRefused,
    label_value,
    request_name,
)

SOURCE_LABEL = keys.SOURCE_LABEL
# Columns the operator (intake, mirror) writes; a request row that sets one is not from the page.
OPERATOR_COLUMNS = (
    "current_scene",
    "scene_count",
    "combined_video_url",
    "error_message",
    "k8s_namespace",
    "k8s_name",
    "k8s_uid",
    "finished_at",
    "current_scene_name",
    "scenes_succeeded",
    "scenes_failed",
    "eta",
    "queue_position",
    "output_uri",
    "poster_url",
    "subtitles_url",
)
# Control characters a topic may not hold (a description may hold tab and newline).
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
DAY = datetime.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Limits:
    planner_modes: tuple[str, ...] = ("Template",)
    qualities: tuple[str, ...] = ("low", "medium")
    max_active_per_user: int = 2
    max_per_user_per_day: int = 20
    max_active_per_source: int = 6
    max_per_source_per_day: int = 60
    max_active_total: int = 20
    max_total_per_day: int = 500
    anonymous: bool = False  # guests (anonymous sessions) may submit
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
            max_active_per_source=settings.intake_max_active_per_source,
            max_per_source_per_day=settings.intake_max_per_source_per_day,
            max_active_total=settings.intake_max_active_total,
            max_total_per_day=settings.intake_max_total_per_day,
            anonymous=settings.intake_anonymous,
            max_topic_length=settings.intake_max_topic_length,
            max_description_length=settings.intake_max_description_length,
            max_scenes=settings.intake_max_scenes,
        )


def text(row: Mapping[str, Any], key: str, *, limit: int, multiline: bool = False) -> str:
    """A text field as the page writes it: a string (or nothing), valid Unicode, no control
    characters (a description may break lines), at most `limit` characters."""
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RowRefused(f"The {key} must be text.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RowRefused(f"The {key} holds characters that are not valid text.") from None
    plain = value.replace("\r\n", " ").replace("\n", " ").replace("\t", " ") if multiline else value
    found = CONTROL.search(plain)
    if found:
        raise RowRefused(f"The {key} holds a control character (U+{ord(found.group()):04X}); remove it.")
    if len(value) > limit:
        raise RowRefused(f"The {key} has {len(value)} characters; at most {limit} are allowed.")
    return value


def check_row(row: Mapping[str, Any], limits: Limits, *, resumed: bool = False) -> None:
    """What the user chose, against the limits in the Helm values. `resumed`: the row is one
    this intake accepted before a crash (its `k8s_name`/`k8s_namespace` are the intake's own)."""
    preset = [
        key
        for key in OPERATOR_COLUMNS
        if row.get(key) not in (None, "", 0) and not (resumed and key in ("k8s_name", "k8s_namespace"))
    ]
    if preset:
        raise RowRefused(
            f"This row sets {', '.join(preset)}, which only the operator writes: {FROM_THE_PAGE}"
        )
    status = row.get("status")
    if status not in (None, ROW_QUEUED) and not (resumed and status == ROW_PLANNING):
        raise RowRefused(
            f"This row's status is {shown(status)}, which only the operator writes: {FROM_THE_PAGE}"
        )
    if row.get("progress") not in (None, 0):
        raise RowRefused(
            "This row sets progress, which only the operator writes: submit requests from the page."
        )
    topic = text(row, "topic", limit=limits.max_topic_length).strip()
    if not topic:
        raise RowRefused("The topic is empty: say what the video should explain.")
    text(row, "description", limit=limits.max_description_length, multiline=True)
    mode = row.get("planner_mode") or limits.planner_modes[0]
    if mode not in limits.planner_modes:
        raise RowRefused(
            f"Planner {shown(mode)} is not offered here; choose {' or '.join(limits.planner_modes)}."
        )
    quality = row.get("quality") or limits.qualities[0]
    if quality not in limits.qualities:
        raise RowRefused(
            f"Quality {shown(quality)} is not offered here; choose {' or '.join(limits.qualities)}."
        )
    if row.get("cancel_requested") not in (None, False, True):
        raise RowRefused("cancel_requested must be true or false.")
    if row.get("retry_requested") not in (None, 0) or row.get("delete_requested") not in (None, False):
        raise RowRefused("A new request cannot ask for a retry or a delete: " + FROM_THE_PAGE)
    if row.get("cancel_requested"):
        raise RowRefused(CANCELLED_BEFORE_START)


CANCELLED_BEFORE_START = "Cancelled before it started."
FROM_THE_PAGE = "submit requests from the page."


def shown(value: object) -> str:
    """A user's value inside a message: printable, short, never raising."""
    return ascii(value)[:40]


@dataclasses.dataclass(frozen=True)
class Quota:
    """One cap on unfinished requests and on requests in 24 hours, and whose they are."""

    max_active: int
    max_per_day: int
    busy: str  # the refusal when `max_active` are unfinished ("{n}": how many)
    spent: str  # the refusal when `max_per_day` were made in 24 hours


def quotas(limits: Limits) -> dict[str, Quota]:
    """The three scopes a web request counts in: its user, its client address, all web requests."""
    return {
        "user": Quota(
            limits.max_active_per_user,
            limits.max_per_user_per_day,
            "You have {n} videos in progress, the most allowed at once; "
            "wait for one to finish or cancel one.",
            "You have asked for {n} videos in the last 24 hours, the most allowed; try again later.",
        ),
        "source": Quota(
            limits.max_active_per_source,
            limits.max_per_source_per_day,
            "Your network has {n} videos in progress, the most allowed at once; wait for one to finish.",
            "Your network has asked for {n} videos in the last 24 hours, the most allowed; try again later.",
        ),
        "total": Quota(
            limits.max_active_total,
            limits.max_total_per_day,
            "The service is rendering {n} videos, the most it takes at once; try again in a few minutes.",
            "The service has taken {n} videos in the last 24 hours, the most it takes; try again tomorrow.",
        ),
    }


def check_quota(
    requests: Iterable[Mapping[str, Any]],
    limits: Limits,
    now: datetime.datetime,
    scope: str = "user",
    recorded: Collection[str] = (),
) -> None:
    """`requests`: the VideoRequests of one scope (from Kubernetes, the source of truth);
    `recorded`: the request names of the scope's acceptances in the last 24 hours, from the
    intake's ledger (`quotas`), which still counts requests deleted since. A request in both
    counts once; a name recorded twice (a row id used again) counts twice."""
    quota = quotas(limits)[scope]
    active, today, names = 0, len(recorded), set(recorded)
    for request in requests:
        metadata = request.get("metadata") or {}
        if ((request.get("status") or {}).get("phase")) not in phases.TERMINAL:
            active += 1
        created = parse_time(metadata.get("creationTimestamp"))
        if created is not None and now - created < DAY and metadata.get("name") not in names:
            today += 1
    if active >= quota.max_active:
        raise RowRefused(quota.busy.format(n=active))
    if today >= quota.max_per_day:
        raise RowRefused(quota.spent.format(n=today))


def source_value(address: str) -> str:
    """A client address as a label value: hashed (an address is personal data)."""
    return "a-" + hashlib.sha256(address.encode("utf-8", "replace")).hexdigest()[:40]


def collision(name: str) -> str:
    return (
        f"This request cannot be taken: the name {name} belongs to another request. "
        "Submit it again from the page."
    )


def video_request(
    row: Mapping[str, Any], owner: str, namespace: str, limits: Limits, source: str = ""
) -> dict[str, Any]:
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
    labels = {INTAKE_LABEL: INTAKE_SOURCE, USER_LABEL: label_value(owner), SOURCE_LABEL: source_value(source)}
    batch = row.get("batch")
    if isinstance(batch, str) and len(batch) <= 63 and LABEL_VALUE.match(batch):  # the page's group
        labels[keys.BATCH_LABEL] = batch
    return {
        "apiVersion": keys.API_VERSION,
        "kind": keys.KIND,
        "metadata": {
            "name": request_name(row_id),
            "namespace": namespace,
            "labels": labels,
            "annotations": {ROW_ANNOTATION: row_id, OWNER_ANNOTATION: owner},
        },
        "spec": spec,
    }


def accepted_data(body: Mapping[str, Any]) -> dict[str, Any]:
    """What an accepted row is updated with at once: the original schema's `planning` (the
    worker has it; the old system wrote the same when its worker picked a row up)."""
    metadata = body["metadata"]
    return {
        "status": ROW_PLANNING,
        "phase": phases.PENDING,
        "k8s_namespace": metadata["namespace"],
        "k8s_name": metadata["name"],
    }


def refusal_data(message: str, phase: str = phases.FAILED) -> dict[str, Any]:
    """What a refused row is updated with (original columns first, then the extra ones)."""
    return {"status": ROW_FAILED, "error_message": message, "phase": phase}


def flag_refusal_data(message: str, clears: Mapping[str, Any]) -> dict[str, Any]:
    """What a refused retry or delete writes: its message and the flag cleared, so the row leaves
    the flag's query (its status stays what the mirror wrote)."""
    return {"error_message": message, **clears}


def retry_target(spec: Mapping[str, Any], status: Mapping[str, Any]) -> int | None:
    """The `spec.retryGeneration` one more retry asks for; None unless the request failed and no
    retry is still to be served (a count seen twice, after a lost write, retries once)."""
    if status.get("phase") != phases.FAILED or pending_retry(spec, status) is not None:
        return None
    return max(int(spec.get("retryGeneration") or 0), int(status.get("retryGeneration") or 0)) + 1
