"""SelfSubjectAccessReview, SelfSubjectRulesReview and SelfSubjectReview: `kubectl auth can-i`,
`kubectl auth can-i --list` and `kubectl auth whoami`.

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
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
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
    if rt.plural == "selfsubjectrulesreviews":
        return result | {
            "spec": spec,
            "status": _rules(identity, authorizer, str(spec.get("namespace") or "")),
        }
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


# What every authenticated user may do (system:basic-user, system:discovery, system:public-info-viewer).
_BASIC_RESOURCE_RULES = [
    {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    },
    {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
]
_BASIC_NON_RESOURCE_RULES = [
    {
        "verbs": ["get"],
        "nonResourceURLs": [
            "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
            "/readyz", "/version", "/version/",
        ],
    }
]  # fmt: skip


def _rules(identity: str, authorizer: Authorizer | None, namespace: str) -> dict[str, Any]:
    """The rules RBAC grants the requester in `namespace`; everything for an unrestricted identity."""
    if authorizer is None or identity not in authorizer.enforce_for:
        return {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    resource_rules: list[dict[str, Any]] = list(_BASIC_RESOURCE_RULES)
    non_resource_rules: list[dict[str, Any]] = list(_BASIC_NON_RESOURCE_RULES)
    for rule in authorizer.rules_for(authorizer.subject(identity), namespace):
        if rule.get("nonResourceURLs"):
            non_resource_rules.append(
                {"verbs": list(rule.get("verbs") or []), "nonResourceURLs": list(rule["nonResourceURLs"])}
            )
            continue
        entry = {k: list(rule.get(k) or []) for k in ("verbs", "apiGroups", "resources")}
        if rule.get("resourceNames"):
            entry["resourceNames"] = list(rule["resourceNames"])
        resource_rules.append(entry)
    return {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": False}
