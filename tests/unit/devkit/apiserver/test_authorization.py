"""RBAC in the dev cluster: rule matching, bindings and the 403 the real API server answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from scenefarm_devkit.apiserver import DevCluster
from scenefarm_devkit.apiserver.authorization import Attributes, Authorizer, rule_allows
from scenefarm_devkit.apiserver.routing import route
from scenefarm_devkit.apiserver.store import Store

from .helpers import CM, CRD_PATH, VR, Client, cm, vr

SA = {"kind": "ServiceAccount", "name": "scenefarm-operator", "namespace": "scenefarm-system"}
RBAC = "/apis/rbac.authorization.k8s.io/v1"


def attrs(
    verb: str, resource: str, group: str = "", sub: str = "", ns: str = "default", name: str = ""
) -> Attributes:
    return Attributes(verb, group, resource, sub, ns, name)


RULE_CASES: list[tuple[str, dict[str, Any], Attributes, bool]] = [
    ("exact match", {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]},
     attrs("create", "jobs", "batch"), True),
    ("other verb", {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]},
     attrs("delete", "jobs", "batch"), False),
    ("other group", {"apiGroups": [""], "resources": ["jobs"], "verbs": ["create"]},
     attrs("create", "jobs", "batch"), False),
    ("core group is the empty string", {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
     attrs("list", "pods"), True),
    ("wildcard verb", {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["*"]},
     attrs("deletecollection", "jobs", "batch"), True),
    ("wildcard group", {"apiGroups": ["*"], "resources": ["jobs"], "verbs": ["get"]},
     attrs("get", "jobs", "batch"), True),
    ("wildcard resource covers subresources", {"apiGroups": ["x.dev"], "resources": ["*"], "verbs": ["patch"]},
     attrs("patch", "things", "x.dev", sub="status"), True),
    ("resource does not cover its subresource", {"apiGroups": ["x.dev"], "resources": ["things"],
     "verbs": ["patch"]}, attrs("patch", "things", "x.dev", sub="status"), False),
    ("subresource does not cover its resource", {"apiGroups": ["x.dev"], "resources": ["things/status"],
     "verbs": ["patch"]}, attrs("patch", "things", "x.dev"), False),
    ("resource/subresource", {"apiGroups": ["x.dev"], "resources": ["things/status"], "verbs": ["patch"]},
     attrs("patch", "things", "x.dev", sub="status"), True),
    ("*/subresource", {"apiGroups": ["x.dev"], "resources": ["*/status"], "verbs": ["patch"]},
     attrs("patch", "things", "x.dev", sub="status"), True),
    ("resourceNames match the name", {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"],
     "resourceNames": ["a"]}, attrs("get", "configmaps", name="a"), True),
    ("resourceNames exclude other names", {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"],
     "resourceNames": ["a"]}, attrs("get", "configmaps", name="b"), False),
    ("resourceNames never allow a list", {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"],
     "resourceNames": ["a"]}, attrs("list", "configmaps"), False),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "request_attrs", "allowed"), [c[1:] for c in RULE_CASES],
                         ids=[c[0] for c in RULE_CASES])  # fmt: skip
def test_a_rule_allows_exactly_the_requests_it_names(
    rule: dict[str, Any], request_attrs: Attributes, allowed: bool
) -> None:
    assert rule_allows(rule, request_attrs) is allowed


ROUTE_CASES = [
    ("GET", "/apis/batch/v1/namespaces/default/jobs", False, ("list", "batch", "jobs", "", "default", "")),
    ("GET", "/apis/batch/v1/jobs", True, ("watch", "batch", "jobs", "", "", "")),
    ("GET", "/api/v1/namespaces/default/pods/p", False, ("get", "", "pods", "", "default", "p")),
    ("PATCH", f"{VR}/v/status", False, ("patch", "scenefarm.dev", "videorequests", "status", "default", "v")),
    ("POST", CM, False, ("create", "", "configmaps", "", "default", "")),
    ("PUT", f"{CM}/a", False, ("update", "", "configmaps", "", "default", "a")),
    ("DELETE", f"{CM}/a", False, ("delete", "", "configmaps", "", "default", "a")),
    ("DELETE", CM, False, ("deletecollection", "", "configmaps", "", "default", "")),
    ("GET", "/api/v1/namespaces/ns1", False, ("get", "", "namespaces", "", "ns1", "ns1")),
]


@pytest.mark.parametrize(
    ("method", "path", "watch", "expected"), ROUTE_CASES, ids=[c[0] + " " + c[1] for c in ROUTE_CASES]
)
def test_request_attributes_are_derived_as_the_api_server_derives_them(
    method: str, path: str, watch: bool, expected: tuple[str, ...]
) -> None:
    assert Attributes.of(route(method, path, watch)) == Attributes(*expected)


def rbac_object(kind: str, name: str, namespace: str = "", **fields: Any) -> dict[str, Any]:
    meta = {"name": name} | ({"namespace": namespace} if namespace else {})
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta} | fields


def binding(
    kind: str, name: str, role_kind: str, role: str, subjects: list[dict[str, str]], ns: str = ""
) -> Any:
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role}
    return rbac_object(kind, name, ns, roleRef=ref, subjects=subjects)


def store_with(*objects: dict[str, Any]) -> Store:
    plurals = {"ClusterRole": "clusterroles", "Role": "roles", "ClusterRoleBinding": "clusterrolebindings",
               "RoleBinding": "rolebindings"}  # fmt: skip
    store = Store()
    for i, obj in enumerate(objects):
        meta = obj["metadata"] | {"uid": f"u{i}"}
        key = ("rbac.authorization.k8s.io", plurals[obj["kind"]], meta.get("namespace", ""), meta["name"])
        store.put(key, obj | {"metadata": meta})
    return store


READ_PODS = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]

BINDING_CASES: list[tuple[str, list[dict[str, Any]], Attributes, bool]] = [
    ("a ClusterRoleBinding grants in every namespace",
     [rbac_object("ClusterRole", "r", rules=READ_PODS), binding("ClusterRoleBinding", "b", "ClusterRole", "r", [SA])],
     attrs("list", "pods", ns="elsewhere"), True),
    ("a ClusterRoleBinding grants at the cluster scope",
     [rbac_object("ClusterRole", "r", rules=READ_PODS), binding("ClusterRoleBinding", "b", "ClusterRole", "r", [SA])],
     attrs("list", "pods", ns=""), True),
    ("a RoleBinding grants in its own namespace",
     [rbac_object("Role", "r", "videos", rules=READ_PODS), binding("RoleBinding", "b", "Role", "r", [SA], "videos")],
     attrs("list", "pods", ns="videos"), True),
    ("a RoleBinding grants nothing in another namespace",
     [rbac_object("Role", "r", "videos", rules=READ_PODS), binding("RoleBinding", "b", "Role", "r", [SA], "videos")],
     attrs("list", "pods", ns="default"), False),
    ("a RoleBinding grants nothing at the cluster scope",
     [rbac_object("Role", "r", "videos", rules=READ_PODS), binding("RoleBinding", "b", "Role", "r", [SA], "videos")],
     attrs("list", "pods", ns=""), False),
    ("a RoleBinding to a ClusterRole grants it in the binding's namespace only",
     [rbac_object("ClusterRole", "r", rules=READ_PODS), binding("RoleBinding", "b", "ClusterRole", "r", [SA], "videos")],
     attrs("get", "pods", ns="videos", name="p"), True),
    ("a binding for another ServiceAccount grants nothing",
     [rbac_object("ClusterRole", "r", rules=READ_PODS),
      binding("ClusterRoleBinding", "b", "ClusterRole", "r", [SA | {"name": "someone-else"}])],
     attrs("list", "pods"), False),
    ("a binding for the same name in another namespace grants nothing",
     [rbac_object("ClusterRole", "r", rules=READ_PODS),
      binding("ClusterRoleBinding", "b", "ClusterRole", "r", [SA | {"namespace": "default"}])],
     attrs("list", "pods"), False),
    ("a User subject with the service account's username",
     [rbac_object("ClusterRole", "r", rules=READ_PODS),
      binding("ClusterRoleBinding", "b", "ClusterRole", "r",
              [{"kind": "User", "name": "system:serviceaccount:scenefarm-system:scenefarm-operator"}])],
     attrs("list", "pods"), True),
    ("the group of the service account's namespace",
     [rbac_object("ClusterRole", "r", rules=READ_PODS),
      binding("ClusterRoleBinding", "b", "ClusterRole", "r",
              [{"kind": "Group", "name": "system:serviceaccounts:scenefarm-system"}])],
     attrs("list", "pods"), True),
    ("a binding to a missing role grants nothing",
     [binding("ClusterRoleBinding", "b", "ClusterRole", "missing", [SA])], attrs("list", "pods"), False),
    ("a role without a binding grants nothing", [rbac_object("ClusterRole", "r", rules=READ_PODS)],
     attrs("list", "pods"), False),
]  # fmt: skip


@pytest.mark.parametrize(("objects", "request_attrs", "allowed"), [c[1:] for c in BINDING_CASES],
                         ids=[c[0] for c in BINDING_CASES])  # fmt: skip
def test_bindings_grant_their_roles_to_their_subjects_where_they_apply(
    objects: list[dict[str, Any]], request_attrs: Attributes, allowed: bool
) -> None:
    authorizer = Authorizer(store_with(*objects), {"operator"}, {"operator": SA})
    assert authorizer.allows(SA, request_attrs) is allowed


def test_an_identity_without_a_subject_mapping_is_the_user_of_the_same_name() -> None:
    assert Authorizer(Store(), {"ci"}).subject("ci") == {"kind": "User", "name": "ci"}


# --- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
async def rbac_cluster(tmp_path: Path) -> AsyncIterator[DevCluster]:
    async with DevCluster(
        tmp_path / "state", crds=[CRD_PATH], enforce_rbac_for={"operator"}, rbac_subjects={"operator": SA}
    ) as running:
        yield running


@pytest.fixture
async def sessions(rbac_cluster: DevCluster) -> AsyncIterator[tuple[Client, Client]]:
    async with aiohttp.ClientSession() as session:
        admin = Client(session, rbac_cluster.url, rbac_cluster.token_for("admin"))
        operator = Client(session, rbac_cluster.url, rbac_cluster.token_for("operator"))
        yield admin, operator


async def test_a_request_no_role_allows_is_answered_403_in_the_api_servers_words(
    sessions: tuple[Client, Client],
) -> None:
    _, operator = sessions
    status, body = await operator.get("/apis/batch/v1/namespaces/default/jobs")
    assert status == 403
    assert body["kind"] == "Status" and body["reason"] == "Forbidden" and body["code"] == 403
    assert body["message"] == (
        'jobs.batch is forbidden: User "system:serviceaccount:scenefarm-system:scenefarm-operator" '
        'cannot list resource "jobs" in API group "batch" in the namespace "default"'
    )
    status, body = await operator.patch(f"{VR}/v/status", {"status": {}})
    assert status == 403
    assert body["message"].startswith('videorequests.scenefarm.dev "v" is forbidden: ')
    assert body["message"].endswith(
        'cannot patch resource "videorequests/status" in API group "scenefarm.dev" in the namespace "default"'
    )
    status, body = await operator.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    assert body["message"].endswith("at the cluster scope")


async def test_granted_requests_pass_and_the_grant_takes_effect_at_once(
    rbac_cluster: DevCluster, sessions: tuple[Client, Client]
) -> None:
    admin, operator = sessions
    assert (await operator.post(CM, cm("a")))[0] == 403
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "get"]}]
    assert (await admin.post(f"{RBAC}/clusterroles", rbac_object("ClusterRole", "cm", rules=rules)))[0] == 201
    crb = binding("ClusterRoleBinding", "cm", "ClusterRole", "cm", [SA])
    assert (await admin.post(f"{RBAC}/clusterrolebindings", crb))[0] == 201

    assert (await operator.post(CM, cm("a")))[0] == 201
    assert (await operator.get(f"{CM}/a"))[0] == 200
    assert (await operator.delete(f"{CM}/a"))[0] == 403
    denied = [(r.verb, r.status) for r in rbac_cluster.request_log if r.identity == "operator"]
    assert denied == [("create", 403), ("create", 201), ("get", 200), ("delete", 403)]


async def test_other_identities_and_discovery_are_never_restricted(sessions: tuple[Client, Client]) -> None:
    admin, operator = sessions
    assert (await admin.post(VR, vr("v")))[0] == 201
    for path in ("/api", "/apis", "/version", "/apis/batch/v1", "/openapi/v3"):
        status, _ = await operator.get(path)
        assert status == 200, path


def test_a_service_account_token_is_that_account_and_always_authorized_by_its_roles() -> None:
    # The dev kit's Deployment Pods run with their ServiceAccount's token, named as the API server
    # names the account; RBAC decides for it without the test naming it.
    identity = "system:serviceaccount:scenefarm-system:scenefarm-operator"
    objects = [
        rbac_object("Role", "r", "videos", rules=READ_PODS),
        binding("RoleBinding", "b", "Role", "r", [SA], "videos"),
    ]
    authorizer = Authorizer(store_with(*objects), ())
    assert identity in authorizer.enforce_for and "admin" not in authorizer.enforce_for
    assert authorizer.subject(identity) == SA
    assert authorizer.allows(authorizer.subject(identity), attrs("list", "pods", ns="videos"))
    assert not authorizer.allows(authorizer.subject(identity), attrs("list", "pods", ns="default"))
