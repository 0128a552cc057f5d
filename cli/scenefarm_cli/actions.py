"""`scenefarm retry|cancel|suspend|resume NAME`: user actions as spec changes (GitOps-friendly).

Each action is one merge patch of the VideoRequest's spec, so it is what a person could commit
to a GitOps repo instead; the operator does the rest. `refusal` decides, before anything is
sent, what cannot be done: a Cancelled request is final (the CRD forbids undoing `spec.cancel`),
so resume, retry and suspend are refused with that reason rather than "requested" and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightkube.core.exceptions import ApiError
from lightkube.types import PatchType

from scenefarm_cli.connection import Connection
from scenefarm_cli.errors import Refused
from scenefarm_cli.output import Output
from scenefarm_cli.resources import VideoRequest
from scenefarm_cli.videorequests import get, what
from scenefarm_contract import phases

ACTIONS = ("retry", "cancel", "suspend", "resume")


def spec_patch(action: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    if action == "retry":
        return {"retryGeneration": int(spec.get("retryGeneration") or 0) + 1}
    if action == "cancel":
        return {"cancel": True}
    return {"suspend": action == "suspend"}


def is_cancelled(request: Mapping[str, Any]) -> bool:
    spec, status = request.get("spec") or {}, request.get("status") or {}
    return bool(spec.get("cancel")) or status.get("phase") == phases.CANCELLED


def refusal(action: str, request: Mapping[str, Any], program: str = "scenefarm") -> str | None:
    """Why `action` cannot be done on `request` now, or None when it can."""
    name = request["metadata"]["name"]
    status = request.get("status") or {}
    if action != "cancel" and is_cancelled(request):
        return (
            f"videorequest/{name} was cancelled, and Cancelled is final: it cannot be {_done[action]}. "
            f"Render it again under a new name with: {program} resubmit {name}"
        )
    if action == "retry" and status.get("phase") == phases.SUCCEEDED and not status.get("scenesFailed"):
        return f"videorequest/{name} succeeded with every scene: there is nothing to retry"
    return None


def no_op(action: str, request: Mapping[str, Any]) -> str | None:
    """A message when the request is already where `action` would put it."""
    name, spec = request["metadata"]["name"], request.get("spec") or {}
    if action == "cancel" and is_cancelled(request):
        return f"videorequest/{name} is already cancelled"
    if action == "suspend" and spec.get("suspend"):
        return f"videorequest/{name} is already suspended"
    if action == "resume" and not spec.get("suspend"):
        return f"videorequest/{name} is not suspended: nothing to resume"
    if action == "retry" and not _anything_failed(request.get("status") or {}):
        phase = (request.get("status") or {}).get("phase") or phases.PENDING
        return f"videorequest/{name} has no failed scene (phase {phase}): nothing to retry"
    return None


_RETRIED = frozenset({phases.FAILED, phases.RETRYING, phases.HEALING})  # what a retry starts again


def _anything_failed(status: Mapping[str, Any]) -> bool:
    """A failed request (planning, a scene or the combine), or a scene whose attempt failed."""
    if status.get("phase") == phases.FAILED or status.get("scenesFailed"):
        return True
    return any(scene.get("phase") in _RETRIED for scene in status.get("scenes") or ())


_done = {"retry": "retried", "suspend": "suspended", "resume": "resumed", "cancel": "cancelled"}
_effect = {
    "retry": "its failed scenes render again, then the video is combined again",
    "cancel": "every Job stops and the request ends Cancelled (final)",
    "suspend": "no new scene Jobs start and running ones are suspended",
    "resume": "scene Jobs run again",
}


CONFLICT_TRIES = 5  # the operator writes the status all the time: read again and re-apply


def act(action: str, name: str, conn: Connection, out: Output) -> int:
    for tries_left in reversed(range(CONFLICT_TRIES)):
        request = get(conn, name)
        reason = refusal(action, request, out.program)
        if reason:
            raise Refused(reason)
        already = no_op(action, request)
        if already:
            out.line(already)
            return 0
        patch = spec_patch(action, request.get("spec") or {})
        # The resourceVersion makes the patch fail (409) if someone changed the request meanwhile,
        # so a retry never bumps a retryGeneration it did not see; on a conflict, read and try again.
        body = {"metadata": {"resourceVersion": request["metadata"]["resourceVersion"]}, "spec": patch}
        with conn.talking(what(conn, name)):
            try:
                conn.client().patch(
                    VideoRequest, name, body, namespace=conn.namespace, patch_type=PatchType.MERGE
                )
            except ApiError as e:
                if e.status.code == 409 and tries_left:
                    continue
                raise
        break
    detail = f" (retryGeneration {patch['retryGeneration']})" if action == "retry" else ""
    out.line(f"videorequest/{name}: {action} requested{detail}: {_effect[action]}")
    return 0
