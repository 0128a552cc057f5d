"""Which VideoRequests the web intake made, from which request row, for which user. Pure.

The intake writes four facts on every VideoRequest it creates (`intake.video_request`): the name
`request_name(row id)`, the label `scenefarm.dev/intake: appwrite`, the owner's
`scenefarm.dev/appwrite-user` label, and the annotations naming the row and the owner. Only a
VideoRequest in the intake's namespace carrying all of them, for the owner its spec names, is a
web request (`intake_row_of`): anything else is mirrored into a row of its own, however it is
annotated, so no VideoRequest made elsewhere can write to or delete a user's request row.

A row's owner is the one user its permissions let read it (`owner_of`): the Web SDK's default for
a user's new row, and what the mirror writes on it (`rows.owner_permissions`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from scenefarm_contract import keys
from scenefarm_operator.support.errors import ScenefarmError

INTAKE_LABEL = keys.INTAKE_LABEL
USER_LABEL = keys.USER_LABEL
ROW_ANNOTATION = keys.ROW_ANNOTATION
OWNER_ANNOTATION = keys.OWNER_ANNOTATION
INTAKE_SOURCE = "appwrite"  # the value of INTAKE_LABEL
ROW_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,35}$")  # an Appwrite id
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
READ_USER = re.compile(r'^read\("user:([^"/]+)"\)$')


class RowRefused(ScenefarmError):
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
        raise RowRefused(
            "This request row must be readable by exactly one user, its creator: create it from the "
            "page (the Web SDK's default permissions do that)."
        )
    return users.pop()


def owned_by(permissions: Iterable[str], owner: str) -> bool:
    """Whether `owner` is the one user who may read a row with these permissions."""
    try:
        return owner_of(permissions) == owner
    except RowRefused:
        return False


def made_from(body: Mapping[str, Any] | None, row_id: str, owner: str) -> bool:
    """Whether this VideoRequest was made by the intake from row `row_id` for user `owner`."""
    if not body:
        return False
    metadata = body.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    return (
        metadata.get("name") == request_name(row_id)
        and labels.get(INTAKE_LABEL) == INTAKE_SOURCE
        and annotations.get(ROW_ANNOTATION) == row_id
        and annotations.get(OWNER_ANNOTATION) == owner
        and labels.get(USER_LABEL) == label_value(owner)
    )


def request_owner(body: Mapping[str, Any]) -> str | None:
    """The Appwrite user a VideoRequest shows itself to (`spec.owner.appwriteUserId`)."""
    owner = ((body.get("spec") or {}).get("owner") or {}).get("appwriteUserId")
    return owner if isinstance(owner, str) and owner else None


def intake_row_of(body: Mapping[str, Any], intake_namespace: str) -> str | None:
    """The request row this VideoRequest mirrors into, when the intake made it: in the intake's
    namespace, with everything the intake writes on its requests, for the owner its spec names.
    None for every other VideoRequest (no intake, another namespace, kubectl, a forged annotation)."""
    metadata = body.get("metadata") or {}
    row_id = (metadata.get("annotations") or {}).get(ROW_ANNOTATION)
    owner = request_owner(body)
    if not intake_namespace or metadata.get("namespace") != intake_namespace or owner is None:
        return None
    if not isinstance(row_id, str) or not ROW_ID.match(row_id) or not made_from(body, row_id, owner):
        return None
    return row_id


def claims_a_row(body: Mapping[str, Any]) -> bool:
    """Whether the VideoRequest is annotated with a request row (made by the intake or not)."""
    return ROW_ANNOTATION in ((body.get("metadata") or {}).get("annotations") or {})
