"""RBAC for chosen identities: Roles, ClusterRoles and their bindings stored in the dev cluster.

The real API server authorizes every request before it looks at the resource; this module does
the same for the identities a test names (`enforce_for`), so a permission missing from the Helm
chart's roles fails the operator against the dev cluster the way it would fail in a cluster.
Everyone else (admin, the Job runner) stays unrestricted, as the cluster's own components are.

Semantics follow kubernetes/plugin/pkg/auth/authorizer/rbac: a request is allowed when any rule
of any role bound to the subject (or to one of its groups) matches its verb, API group, resource
(`resource` or `resource/subresource`, `*`, `*/subresource`) and, when the rule lists
resourceNames, its name. ClusterRoleBindings grant everywhere; RoleBindings only in their own
namespace (referring to a Role there or to a ClusterRole). Non-resource paths (discovery,
/version, /openapi, health) are always allowed, as `system:discovery` and
`system:public-info-viewer` allow them for everyone. Aggregated ClusterRoles are not modelled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from scenefarm_devkit.apiserver.errors import ApiError, qualified
from scenefarm_devkit.apiserver.routing import Route
from scenefarm_devkit.apiserver.store import Store

RBAC_GROUP = "rbac.authorization.k8s.io"
Subject = Mapping[str, str]  # {"kind": "ServiceAccount", "name": ..., "namespace": ...} or User/Group


class Forbidden(ApiError):
    code = 403
    reason = "Forbidden"


@dataclasses.dataclass(frozen=True)
class Attributes:
    """What RBAC decides on: the request's verb and the object it addresses."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    @classmethod
    def of(cls, r: Route) -> Attributes:
        namespace = r.namespace
        if r.plural == "namespaces" and r.group == "" and not namespace:
            # The real server's RequestInfo treats a namespace's name as its namespace, so a
            # RoleBinding in "ns" can grant `get namespaces/ns`.
            namespace = r.name
        return cls(r.verb, r.group, r.plural, r.subresource, namespace, r.name)

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def username(subject: Subject) -> str:
    """How the API server names the subject in its messages."""
    if subject.get("kind") == "ServiceAccount":
        return f"system:serviceaccount:{subject.get('namespace', '')}:{subject['name']}"
    return subject["name"]


def groups_of(subject: Subject) -> frozenset[str]:
    """The groups the authenticator adds: ServiceAccounts belong to their namespace's group."""
    if subject.get("kind") == "ServiceAccount":
        ns = subject.get("namespace", "")
        return frozenset({"system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"})
    return frozenset({"system:authenticated"})


def binds(binding: Mapping[str, Any], subject: Subject) -> bool:
    """Whether the binding names the subject, one of its groups, or (as a User) its username."""
    names = {("User", username(subject))} | {("Group", g) for g in groups_of(subject)}
    if subject.get("kind") == "ServiceAccount":
        names.add(("ServiceAccount", f"{subject.get('namespace', '')}/{subject['name']}"))
    for s in binding.get("subjects") or []:
        kind, name = s.get("kind", ""), s.get("name", "")
        if (kind, f"{s.get('namespace', '')}/{name}" if kind == "ServiceAccount" else name) in names:
            return True
    return False


def rule_allows(rule: Mapping[str, Any], attrs: Attributes) -> bool:
    verbs, api_groups = rule.get("verbs") or [], rule.get("apiGroups") or []
    if not ("*" in verbs or attrs.verb in verbs):
        return False
    if not ("*" in api_groups or attrs.group in api_groups):
        return False
    resources = rule.get("resources") or []
    wanted = {"*", attrs.full_resource} | ({f"*/{attrs.subresource}"} if attrs.subresource else set())
    if not wanted & set(resources):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
# The ClusterRole system:basic-user, bound to system:authenticated: every identity may ask who it is
# and what it may do (`kubectl auth whoami`, `kubectl auth can-i [--list]`).
SELF_REVIEWS = frozenset({
    ("create", "authorization.k8s.io", "selfsubjectaccessreviews"),
    ("create", "authorization.k8s.io", "selfsubjectrulesreviews"),
    ("create", "authentication.k8s.io", "selfsubjectreviews"),
})  # fmt: skip


def service_account(identity: str) -> Subject | None:
    """The subject of a ServiceAccount token (`system:serviceaccount:<namespace>:<name>`), else None."""
    if not identity.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    namespace, _, name = identity.removeprefix(SERVICE_ACCOUNT_PREFIX).partition(":")
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


class Enforced(frozenset[str]):
    """The identities RBAC decides for: those named, and every ServiceAccount (as in a cluster,
    where Pods' tokens get exactly what their Roles grant)."""

    def __contains__(self, identity: object) -> bool:
        return super().__contains__(identity) or (
            isinstance(identity, str) and bool(service_account(identity))
        )


class Authorizer:
    """Decides requests of the identities in `enforce_for` from the RBAC objects in `store`.

    `subjects` maps an identity (a bearer token's name, e.g. "operator") to the RBAC subject it
    authenticates as; an identity without an entry is the User of the same name.
    """

    def __init__(
        self, store: Store, enforce_for: Collection[str], subjects: Mapping[str, Subject] | None = None
    ) -> None:
        self.store = store
        self.enforce_for = Enforced(enforce_for)
        self.subjects = dict(subjects or {})

    def subject(self, identity: str) -> Subject:
        return self.subjects.get(identity) or service_account(identity) or {"kind": "User", "name": identity}

    def check(self, identity: str, r: Route) -> None:
        """Raise Forbidden, as the API server answers, unless RBAC allows the request."""
        if identity not in self.enforce_for or r.discovery or not r.verb:
            return
        attrs = Attributes.of(r)
        subject = self.subject(identity)
        if not self.allows(subject, attrs):
            raise forbidden(subject, attrs)

    def allows(self, subject: Subject, attrs: Attributes) -> bool:
        if (attrs.verb, attrs.group, attrs.resource) in SELF_REVIEWS:  # system:basic-user, for everyone
            return True
        return any(rule_allows(rule, attrs) for rule in self.rules_for(subject, attrs.namespace))

    def rules_for(self, subject: Subject, namespace: str) -> Iterator[Mapping[str, Any]]:
        """Every rule that applies to the subject in `namespace` ("" = cluster scope only)."""
        for binding in self._objects("clusterrolebindings", None):
            if binds(binding, subject):
                yield from self._role_rules(binding.get("roleRef") or {}, "")
        if namespace:
            for binding in self._objects("rolebindings", namespace):
                if binds(binding, subject):
                    yield from self._role_rules(binding.get("roleRef") or {}, namespace)

    def _role_rules(self, ref: Mapping[str, Any], namespace: str) -> Iterable[Mapping[str, Any]]:
        kind = ref.get("kind")
        if kind == "ClusterRole":
            role = self.store.get((RBAC_GROUP, "clusterroles", "", ref.get("name", "")))
        elif kind == "Role" and namespace:
            role = self.store.get((RBAC_GROUP, "roles", namespace, ref.get("name", "")))
        else:
            role = None
        # A binding to a role that does not exist grants nothing, as in a real cluster.
        return (role or {}).get("rules") or []

    def _objects(self, plural: str, namespace: str | None) -> Iterator[dict[str, Any]]:
        return self.store.scan(RBAC_GROUP, plural, namespace)


def forbidden(subject: Subject, attrs: Attributes) -> Forbidden:
    """The real server's 403: `jobs.batch "x" is forbidden: User "..." cannot create resource ...`."""
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    reason = (
        f'User "{username(subject)}" cannot {attrs.verb} resource "{attrs.full_resource}" '
        f'in API group "{attrs.group}" {where}'
    )
    target = qualified(attrs.resource, attrs.group)
    head = f'{target} "{attrs.name}" is forbidden' if attrs.name else f"{target} is forbidden"
    details = {"group": attrs.group, "kind": attrs.resource} | ({"name": attrs.name} if attrs.name else {})
    return Forbidden(f"{head}: {reason}", details=details)
