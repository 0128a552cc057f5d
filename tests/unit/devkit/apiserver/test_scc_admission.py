"""OpenShift's restricted-v2 SCC on the dev cluster: Pods in namespaces with pre-allocated ranges are
completed (runAsUser, fsGroup, SELinux level, seccomp, capabilities) or refused with OpenShift's
403, and a cluster that plays OpenShift allocates the ranges of every namespace as
cluster-policy-controller does (openshift/apiserver-library-go, openshift/cluster-policy-controller)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from scenefarm_devkit.apiserver import DevCluster, scc, sccallocation

from .helpers import CRD_PATH, Client

NAMESPACES = "/api/v1/namespaces"
RANGES = {
    scc.UID_RANGE: "1000680000/10000",
    scc.SUPPLEMENTAL_GROUPS: "1000680000/10000",
    scc.MCS: "s0:c26,c15",
}
NOT_USABLE = ": Forbidden: not usable by user or serviceaccount"


def pods(namespace: str) -> str:
    return f"{NAMESPACES}/{namespace}/pods"


def namespace(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name} | ({"annotations": annotations} if annotations else {})
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def pod(name: str = "op", *, pod_context: dict[str, Any] | None = None, **container: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "i"} | container]}
    if pod_context is not None:
        spec["securityContext"] = pod_context
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def refusal(*restricted_v2: str) -> str:
    """OpenShift's whole message when restricted-v2 finds these problems."""
    providers = [f'provider "{p}"{NOT_USABLE}' for p in scc.PROVIDERS]
    listed = [providers[0], *restricted_v2, *providers[2:]]
    return "unable to validate against any security context constraint: [" + ", ".join(listed) + "]"


async def ranged(client: Client, name: str = "videos", **overrides: str) -> str:
    status, _ = await client.post(NAMESPACES, namespace(name, RANGES | overrides))
    assert status == 201
    return name


# ---- a namespace with ranges, on an ordinary dev cluster ------------------------------------------


async def test_a_fixed_uid_outside_the_range_is_refused_with_openshifts_message(client: Client) -> None:
    videos = await ranged(client)
    status, answer = await client.post(
        pods(videos), pod(pod_context={"runAsUser": 10001, "fsGroup": 1000680000})
    )
    assert status == 403
    assert answer["reason"] == "Forbidden"
    assert answer["details"] == {"name": "op", "kind": "pods"}
    assert answer["message"] == 'pods "op" is forbidden: ' + refusal(
        "provider restricted-v2: .containers[0].runAsUser: Invalid value: 10001: "
        "must be in the ranges: [1000680000, 1000689999]"
    )


async def test_a_container_uid_is_checked_too_and_the_pod_is_named_by_its_generate_name(
    client: Client,
) -> None:
    videos = await ranged(client)
    body = pod(securityContext={"runAsUser": 10001})
    body["metadata"] = {"generateName": "scenefarm-7c9d8-"}
    status, answer = await client.post(pods(videos), body)
    assert status == 403
    assert answer["message"].startswith('pods "scenefarm-7c9d8-" is forbidden: unable to validate against')
    assert ".containers[0].runAsUser: Invalid value: 10001: must be in the ranges" in answer["message"]


async def test_unset_uids_are_assigned_from_the_range_and_the_pod_completed_as_restricted_v2(
    client: Client,
) -> None:
    videos = await ranged(client)
    body = pod(pod_context={"runAsNonRoot": True})
    body["spec"]["initContainers"] = [{"name": "init", "image": "i"}]
    status, admitted = await client.post(pods(videos), body)
    assert status == 201, admitted
    context = admitted["spec"]["securityContext"]
    assert context["fsGroup"] == 1000680000
    assert context["seLinuxOptions"] == {"level": "s0:c26,c15"}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "runAsUser" not in context  # OpenShift sets it on each container
    for container in [*admitted["spec"]["initContainers"], *admitted["spec"]["containers"]]:
        assert container["securityContext"] == {
            "runAsUser": 1000680000,
            "capabilities": {"drop": ["ALL"]},
            "allowPrivilegeEscalation": False,
        }
    annotations = admitted["metadata"]["annotations"]
    assert annotations[scc.VALIDATED_SCC] == "restricted-v2"
    assert annotations[scc.SECCOMP_POD] == "runtime/default"
    assert annotations[scc.SUBJECT_TYPE] == "user"


async def test_a_uid_inside_the_range_is_kept_and_non_root_is_marked(client: Client) -> None:
    videos = await ranged(client)
    status, admitted = await client.post(pods(videos), pod(securityContext={"runAsUser": 1000689999}))
    assert status == 201, admitted
    context = admitted["spec"]["containers"][0]["securityContext"]
    assert context["runAsUser"] == 1000689999
    assert context["runAsNonRoot"] is True


async def test_an_fs_group_outside_the_supplemental_groups_is_refused_and_unset_gets_their_first(
    client: Client,
) -> None:
    videos = await ranged(client, **{scc.SUPPLEMENTAL_GROUPS: "1000700000/10000"})
    status, answer = await client.post(pods(videos), pod("fixed", pod_context={"fsGroup": 10001}))
    assert status == 403
    assert answer["message"] == 'pods "fixed" is forbidden: ' + refusal(
        "provider restricted-v2: .spec.securityContext.fsGroup: Invalid value: []int64{10001}: "
        "10001 is not an allowed group"
    )
    status, admitted = await client.post(pods(videos), pod("unset"))
    assert status == 201
    assert admitted["spec"]["securityContext"]["fsGroup"] == 1000700000
    assert admitted["spec"]["containers"][0]["securityContext"]["runAsUser"] == 1000680000


async def test_the_chart_defaults_fixed_uid_pod_gets_every_problem_listed(client: Client) -> None:
    """The operator Pod of charts/scenefarm without `openshift: true`: uid, gid and fsGroup 10001."""
    videos = await ranged(client)
    fixed = {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001}
    container = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    status, answer = await client.post(pods(videos), pod(pod_context=fixed, securityContext=container))
    assert status == 403
    assert answer["message"] == 'pods "op" is forbidden: ' + refusal(
        "provider restricted-v2: .spec.securityContext.fsGroup: Invalid value: []int64{10001}: "
        "10001 is not an allowed group",
        "provider restricted-v2: .containers[0].runAsUser: Invalid value: 10001: "
        "must be in the ranges: [1000680000, 1000689999]",
    )


async def test_what_restricted_v2_forbids_besides_uids(client: Client) -> None:
    videos = await ranged(client)
    body = pod(
        securityContext={
            "privileged": True,
            "allowPrivilegeEscalation": True,
            "capabilities": {"add": ["SYS_ADMIN"]},
        }
    )
    body["spec"] |= {"hostNetwork": True, "volumes": [{"name": "host", "hostPath": {"path": "/etc"}}]}
    body["spec"]["securityContext"] = {"seLinuxOptions": {"level": "s0:c1,c0"}}
    status, answer = await client.post(pods(videos), body)
    assert status == 403
    message = answer["message"]
    for problem in (
        'provider restricted-v2: .spec.securityContext.seLinuxOptions.level: Invalid value: "s0:c1,c0": '
        "must be s0:c26,c15",
        "provider restricted-v2: .spec.securityContext.hostNetwork: Invalid value: true: "
        "Host network is not allowed to be used",
        'spec.volumes[0]: Invalid value: "hostPath": hostPath volumes are not allowed to be used',
        "provider restricted-v2: .containers[0].privileged: Invalid value: true: Privileged containers are not allowed",
        'provider restricted-v2: .containers[0].capabilities.add: Invalid value: "SYS_ADMIN": capability may not be added',
        "provider restricted-v2: .containers[0].allowPrivilegeEscalation: Invalid value: true: "
        "Allowing privilege escalation for containers is not allowed",
    ):
        assert problem in message
    assert "runAsUser" not in message  # assigned from the range, so fine


async def test_an_unconfined_seccomp_profile_is_refused(client: Client) -> None:
    videos = await ranged(client)
    status, answer = await client.post(
        pods(videos), pod(pod_context={"seccompProfile": {"type": "Unconfined"}})
    )
    assert status == 403
    assert (
        "pod.metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]: Forbidden: unconfined is not an "
        "allowed seccomp profile. Valid values are [runtime/default]" in answer["message"]
    )


async def test_a_namespace_without_ranges_behaves_as_before(client: Client) -> None:
    status, admitted = await client.post(
        pods("default"), pod(pod_context={"runAsUser": 10001, "fsGroup": 10001})
    )
    assert status == 201
    assert admitted["spec"]["securityContext"] == {"runAsUser": 10001, "fsGroup": 10001}
    assert scc.VALIDATED_SCC not in (admitted["metadata"].get("annotations") or {})


def test_the_annotations_of_a_namespace_are_read_as_openshift_reads_them() -> None:
    assert scc.parse_block("1000680000/10000") == (1000680000, 1000689999)
    assert scc.parse_block("1000680000-1000680999") == (1000680000, 1000680999)
    with pytest.raises(ValueError, match="<start>/<size>"):
        scc.parse_block("1000680000/x")
    ns = namespace("videos", {scc.UID_RANGE: "1000680000/10000", scc.MCS: "s0:c26,c15"})
    groups_from_uids = scc.Ranges(1000680000, 1000689999, 1000680000, "s0:c26,c15")
    assert scc.ranges_of(ns) == groups_from_uids
    with pytest.raises(ValueError) as missing:
        scc.ranges_of(namespace("videos", {scc.UID_RANGE: "1000680000/10000"}))
    assert (
        str(missing.value)
        == 'error fetching namespace "videos": unable to find annotation openshift.io/sa.scc.mcs'
    )


def test_on_openshift_a_namespace_without_ranges_refuses_pods() -> None:
    body = pod()
    assert scc.admit(copy.deepcopy(body), namespace("new"), required=False) is None
    assert scc.admit(body, namespace("new"), required=True) == (
        'error fetching namespace "new": unable to find annotation openshift.io/sa.scc.uid-range'
    )


# ---- a cluster that plays OpenShift: the allocator ------------------------------------------------


def test_blocks_and_mcs_labels_are_cluster_policy_controllers() -> None:
    assert sccallocation.block(0) == "1000000000/10000"
    assert sccallocation.block(68) == "1000680000/10000"
    assert sccallocation.mcs_label(0) == "s0:c1,c0"
    assert sccallocation.mcs_label(1) == "s0:c3,c2"
    assert sccallocation.mcs_label(68) == "s0:c26,c15"  # as seen on OpenShift for 1000680000/10000
    taken = [namespace(str(i), {scc.UID_RANGE: sccallocation.block(i)}) for i in (0, 1, 3)]
    assert sccallocation.free_block(taken) == 2


@pytest.fixture
async def openshift(tmp_path: Path) -> AsyncIterator[tuple[DevCluster, Client]]:
    async with (
        DevCluster(tmp_path / "state", crds=[CRD_PATH], openshift=True) as cluster,
        aiohttp.ClientSession() as session,
    ):
        yield cluster, Client(session, cluster.url, cluster.token_for("admin"))


async def annotations_of(client: Client, name: str) -> dict[str, str]:
    for _ in range(100):
        status, ns = await client.get(f"{NAMESPACES}/{name}")
        if status == 200 and scc.UID_RANGE in (ns["metadata"].get("annotations") or {}):
            return dict(ns["metadata"]["annotations"])
        await asyncio.sleep(0.02)
    raise AssertionError(f"namespace {name} got no SCC ranges")


async def test_every_namespace_gets_its_own_block_written_by_cluster_policy_controller(
    openshift: tuple[DevCluster, Client],
) -> None:
    _, client = openshift
    status, created = await client.post(NAMESPACES, namespace("videos"))
    assert status == 201
    assert scc.UID_RANGE not in (created["metadata"].get("annotations") or {})  # the controller's, later
    blocks = {}
    for name in ("default", "kube-system", "kube-public", "videos"):
        annotations = await annotations_of(client, name)
        assert annotations[scc.SUPPLEMENTAL_GROUPS] == annotations[scc.UID_RANGE]
        start = int(annotations[scc.UID_RANGE].split("/")[0])
        index = (start - sccallocation.UID_START) // sccallocation.BLOCK_SIZE
        assert annotations[scc.MCS] == sccallocation.mcs_label(index)
        blocks[name] = annotations[scc.UID_RANGE]
    assert len(set(blocks.values())) == 4
    _, ns = await client.get(f"{NAMESPACES}/videos")
    assert [e["manager"] for e in ns["metadata"]["managedFields"]][-1] == "cluster-policy-controller"
    assert ns["metadata"]["managedFields"][-1]["operation"] == "Apply"


async def test_a_pod_created_with_its_new_namespace_waits_for_the_ranges_and_gets_them(
    openshift: tuple[DevCluster, Client],
) -> None:
    _, client = openshift
    assert (await client.post(NAMESPACES, namespace("team")))[0] == 201
    status, admitted = await client.post(pods("team"), pod())
    assert status == 201, admitted
    first = int((await annotations_of(client, "team"))[scc.UID_RANGE].split("/")[0])
    assert admitted["spec"]["containers"][0]["securityContext"]["runAsUser"] == first
    status, answer = await client.post(pods("team"), pod("fixed", securityContext={"runAsUser": 10001}))
    assert status == 403
    assert f"must be in the ranges: [{first}, {first + 9999}]" in answer["message"]


async def test_a_namespace_with_ranges_of_its_own_keeps_them(openshift: tuple[DevCluster, Client]) -> None:
    _, client = openshift
    await ranged(client, "mine")
    await asyncio.sleep(0.1)
    assert await annotations_of(client, "mine") == RANGES
