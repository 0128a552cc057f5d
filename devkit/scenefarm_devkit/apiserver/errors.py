"""API errors in the shape of the kube-apiserver's `Status` objects.

ApiError                 any failure answered with a meta/v1 Status body
├── NotFound (404)
├── AlreadyExists (409)
├── Conflict (409)       stale resourceVersion
├── Invalid (422)        schema / CEL / immutable fields; carries causes
├── BadRequest (400)
├── Unauthorized (401)   a bearer token the server does not know (expired, revoked)
├── Gone (410)           watch resourceVersion too old
├── Timeout (504)        a resourceVersion the server has not reached
└── UnsupportedMediaType (415)
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A failure answered as `{"kind": "Status", ...}` with the HTTP code of the same number."""

    code = 500
    reason = "InternalError"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:  # Go's omitempty: an empty group or name is left out
            body["details"] = {k: v for k, v in self.details.items() if v not in ("", None, [])}
        return body


class NotFound(ApiError):
    code = 404
    reason = "NotFound"

    def status(self) -> dict[str, Any]:
        """A 404 always carries `details` (empty for an unknown path), as the real server's does."""
        return super().status() | ({} if self.details is not None else {"details": {}})


class AlreadyExists(ApiError):
    code = 409
    reason = "AlreadyExists"


class Conflict(ApiError):
    code = 409
    reason = "Conflict"


class Invalid(ApiError):
    code = 422
    reason = "Invalid"


class BadRequest(ApiError):
    code = 400
    reason = "BadRequest"


class Unauthorized(ApiError):
    """401: a bearer token the server does not know (expired, revoked, made up)."""

    code = 401
    reason = "Unauthorized"


class Gone(ApiError):
    code = 410
    reason = "Expired"


class Timeout(ApiError):
    code = 504
    reason = "Timeout"


def too_large_resource_version(asked: int, current: int) -> Timeout:
    """storage.NewTooLargeResourceVersionError: the cacher waited and never saw `asked`."""
    return Timeout(
        f"Too large resource version: {asked}, current: {current}",
        details={
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1,
        },
    )


class MethodNotAllowed(ApiError):
    code = 405
    reason = "MethodNotAllowed"


class UnsupportedMediaType(ApiError):
    code = 415
    reason = "UnsupportedMediaType"


class InternalError(ApiError):
    code = 500
    reason = "InternalError"


def qualified(kind_plural: str, group: str) -> str:
    """`videorequests.scenefarm.dev` / `pods` — how the real server names a resource in messages."""
    return f"{kind_plural}.{group}" if group else kind_plural


def not_found(plural: str, group: str, name: str, kind: str = "") -> NotFound:
    return NotFound(
        f'{qualified(plural, group)} "{name}" not found',
        details={"name": name, "group": group, "kind": plural},
    )


def already_exists(plural: str, group: str, name: str) -> AlreadyExists:
    return AlreadyExists(
        f'{qualified(plural, group)} "{name}" already exists',
        details={"name": name, "group": group, "kind": plural},
    )


def conflict(plural: str, group: str, name: str) -> Conflict:
    return Conflict(
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        details={"name": name, "group": group, "kind": plural},
    )


def invalid(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> Invalid:
    """422 with the real server's message: `Kind.group "name" is invalid: [cause, cause]`."""
    texts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return Invalid(
        f'{qualified(kind, group)} "{name}" is invalid: {joined}',
        details={"name": name, "group": group, "kind": kind, "causes": causes},
    )
