"""SelfSubjectAccessReview and SelfSubjectReview: `kubectl auth can-i` and `kubectl auth whoami`.

Create-only kinds that are answered, never stored. An access review is decided by the same RBAC
the server enforces (`authorization.py`) for identities under RBAC; every other identity of the
dev cluster may do anything, so the answer is "yes" for it, as for a cluster admin.
"""

from __future__ import annotations

from typing import Any

from scenefarm_devkit.apiserver import errors
from scenefarm_devkit.apiserver.authorization import Attributes, Authorizer, username
from scenefarm_devkit.apiserver.resources import ResourceType

KINDS = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
}


def answer(rt: ResourceType, body: Any, identity: str, authorizer: Authorizer | None) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.BadRequest("the body of the request was not an object")
    subject = authorizer.subject(identity) if authorizer else {"kind": "User", "name": identity}
    result = {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": {"creationTimestamp": None}}
    if rt.plural == "selfsubjectreviews":
        groups = ["system:authenticated"]
        return result | {"status": {"userInfo": {"username": username(subject), "groups": groups}}}
    spec = body.get("spec") or {}
    attrs = spec.get("resourceAttributes")
    if attrs is not None:
        request = Attributes(
            verb=attrs.get("verb", ""),
            group=attrs.get("group", ""),
            resource=attrs.get("resource", ""),
            subresource=attrs.get("subresource", ""),
            namespace=attrs.get("namespace", ""),
            name=attrs.get("name", ""),
        )
        enforced = authorizer is not None and identity in authorizer.enforce_for
        allowed = not enforced or authorizer.allows(subject, request)  # type: ignore[union-attr]
    else:
        allowed = True  # non-resource URLs (discovery, /healthz) are open to everyone
    return result | {"spec": spec, "status": {"allowed": allowed} | ({} if allowed else {"reason": ""})}
