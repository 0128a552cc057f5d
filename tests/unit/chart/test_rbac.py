"""The operator's RBAC is exactly rbac-requirements.yaml: everything needed, nothing more, scoped right."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import pytest
import yaml

from .chartkit import CHART, RELEASE_NAMESPACE, Manifest, of_kind, render_values

CLUSTER = "<cluster>"


class Grant(NamedTuple):
    where: str  # a namespace, or CLUSTER for a ClusterRole bound by a ClusterRoleBinding
    group: str
    resource: str
    subresource: str
    verb: str


# The web intake needs Appwrite configured (the chart refuses it otherwise).
WEB = {
    "appwrite": {
        "endpoint": "https://appwrite.example/v1",
        "project": "p",
        "existingSecret": "appwrite",
        "renderCredentialsSecret": "appwrite-render",
    },
    # Web requests upload to Appwrite: the render NetworkPolicy needs its addresses.
    "render": {"networkPolicy": {"appwrite": {"cidrs": ["203.0.113.7/32"]}}},
}
MODES: dict[str, dict[str, Any]] = {
    "all namespaces, standalone": {},
    "all namespaces, two replicas": {"operator": {"replicas": 2}},
    "two namespaces, standalone": {"watch": {"namespaces": ["videos-a", "videos-b"]}},
    "two namespaces, three replicas": {
        "operator": {"replicas": 3},
        "watch": {"namespaces": ["videos-a", "videos-b"]},
    },
    "all namespaces, webhook Secrets": {"notify": {"secretRefs": True}},
    "two namespaces, webhook Secrets": {
        "notify": {"secretRefs": True},
        "watch": {"namespaces": ["videos-a"]},
    },
    "all namespaces, Kueue": {"render": {"kueueQueueName": "render-queue"}},
    "two namespaces, Kueue": {
        "render": {"kueueQueueName": "render-queue"},
        "watch": {"namespaces": ["videos-a"]},
    },
    "web intake": {"web": {"enabled": True, "namespace": "videos-a"}, "watch": {"namespaces": ["videos-a"]}}
    | WEB,
    "web intake, all namespaces": {"web": {"enabled": True}} | WEB,
}


def requirements() -> list[dict[str, Any]]:
    return yaml.safe_load((CHART / "rbac-requirements.yaml").read_text())["requirements"]


def needed(values: dict[str, Any]) -> set[Grant]:
    """What rbac-requirements.yaml says the operator needs with these values."""
    watched = values.get("watch", {}).get("namespaces", [])
    active = {"always", "namespaced" if watched else "clusterwide"}
    if values.get("notify", {}).get("secretRefs"):
        active.add("notify-secrets")
    if values.get("web", {}).get("enabled"):
        active.add("web-intake")
    if values.get("render", {}).get("kueueQueueName"):
        active.add("kueue")
    grants = set()
    for req in requirements():
        if req["when"] not in active:
            continue
        if req["scope"] == "release":
            places = [RELEASE_NAMESPACE]
        else:
            places = [CLUSTER] if req["scope"] == "cluster" or not watched else watched
        for where in places:
            for verb in req["verbs"]:
                grants.add(Grant(where, req["group"], req["resource"], req.get("subresource", ""), verb))
    return grants


def expand(where: str, rules: Iterable[dict[str, Any]]) -> set[Grant]:
    grants = set()
    for rule in rules:
        assert not rule.get("resourceNames"), "resourceNames are not modelled by the requirements"
        assert not rule.get("nonResourceURLs"), "the operator needs no non-resource URLs"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                name, _, sub = resource.partition("/")
                grants |= {Grant(where, group, name, sub, verb) for verb in rule["verbs"]}
    return grants


def granted_to(manifests: list[Manifest], account: str, namespace: str) -> set[Grant]:
    """Everything the ServiceAccount can do, following bindings to the roles rendered with them."""
    roles = {(m["kind"], m["metadata"].get("namespace"), m["metadata"]["name"]): m for m in manifests}
    grants: set[Grant] = set()
    for binding in of_kind(manifests, "ClusterRoleBinding") + of_kind(manifests, "RoleBinding"):
        subjects = binding.get("subjects", [])
        if {"kind": "ServiceAccount", "name": account, "namespace": namespace} not in subjects:
            continue
        ref = binding["roleRef"]
        bound_ns = binding["metadata"].get("namespace")
        role = roles[(ref["kind"], bound_ns if ref["kind"] == "Role" else None, ref["name"])]
        where = CLUSTER if binding["kind"] == "ClusterRoleBinding" else bound_ns
        grants |= expand(where, role["rules"])
    return grants


def operator_account(manifests: list[Manifest]) -> str:
    deployment = of_kind(manifests, "Deployment")[0]
    return str(deployment["spec"]["template"]["spec"]["serviceAccountName"])


@pytest.mark.parametrize("values", MODES.values(), ids=MODES.keys())
def test_every_permission_the_operator_needs_is_granted(values: dict[str, Any]) -> None:
    manifests = render_values(values)
    granted = granted_to(manifests, operator_account(manifests), RELEASE_NAMESPACE)
    assert needed(values) - granted == set()


@pytest.mark.parametrize("values", MODES.values(), ids=MODES.keys())
def test_nothing_beyond_the_requirements_is_granted(values: dict[str, Any]) -> None:
    manifests = render_values(values)
    granted = granted_to(manifests, operator_account(manifests), RELEASE_NAMESPACE)
    assert granted - needed(values) == set()


@pytest.mark.parametrize("values", MODES.values(), ids=MODES.keys())
def test_no_role_uses_wildcards_or_escalation_verbs(values: dict[str, Any]) -> None:
    manifests = render_values(values)
    for role in of_kind(manifests, "ClusterRole") + of_kind(manifests, "Role"):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], (role["metadata"]["name"], rule)
            assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"])


def test_namespaced_mode_grants_namespaced_resources_only_inside_the_watched_namespaces() -> None:
    values = MODES["two namespaces, standalone"]
    manifests = render_values(values)
    cluster_wide = {
        g for g in granted_to(manifests, operator_account(manifests), RELEASE_NAMESPACE) if g.where == CLUSTER
    }
    assert {g.resource for g in cluster_wide} == {"customresourcedefinitions", "namespaces"}


@pytest.mark.parametrize("values", MODES.values(), ids=MODES.keys())
def test_the_leader_election_lease_is_granted_in_the_release_namespace_only(values: dict[str, Any]) -> None:
    manifests = render_values(values)
    granted = granted_to(manifests, operator_account(manifests), RELEASE_NAMESPACE)
    leases = {(g.where, g.verb) for g in granted if g.resource == "leases"}
    assert leases == {(RELEASE_NAMESPACE, verb) for verb in ("get", "create", "update")}


def test_the_render_service_account_has_no_permissions_anywhere() -> None:
    manifests = render_values(MODES["two namespaces, three replicas"])
    for namespace in ("videos-a", "videos-b"):
        assert granted_to(manifests, "scenefarm-render", namespace) == set()


def test_no_rbac_is_rendered_when_switched_off() -> None:
    manifests = render_values({"operator": {"rbac": {"create": False}}})
    kinds = {m["kind"] for m in manifests}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


def test_every_requirement_names_a_known_scope_and_condition_and_says_why() -> None:
    for req in requirements():
        assert req["scope"] in {"watched", "cluster", "release"}
        assert req["when"] in {
            "always",
            "namespaced",
            "clusterwide",
            "notify-secrets",
            "web-intake",
            "kueue",
        }
        assert req["why"].strip()


@pytest.mark.parametrize("values", MODES.values(), ids=MODES.keys())
def test_the_operator_may_set_blockownerdeletion_on_its_children(values: dict[str, Any]) -> None:
    # OwnerReferencesPermissionEnforcement: creating a child whose ownerReference has
    # blockOwnerDeletion needs `update` on the owner's finalizers subresource.
    manifests = render_values(values)
    granted = granted_to(manifests, operator_account(manifests), RELEASE_NAMESPACE)
    places = values.get("watch", {}).get("namespaces") or [CLUSTER]
    for where in places:
        assert Grant(where, "scenefarm.dev", "videorequests", "finalizers", "update") in granted
