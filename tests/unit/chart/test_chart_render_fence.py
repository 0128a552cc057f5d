"""The fence around render Pods, proven against the Pods themselves: the render NetworkPolicy
selects every Pod template the operator (and the CLI) can build, the web intake's namespace is a
render namespace, pull secrets reach every Pod, and OpenShift gets no fixed uid."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from scenefarm_cli.fetch import volume as download
from scenefarm_contract.chunks import Unit, encode_units
from scenefarm_contract.keys import RENDER_UID_ANNOTATION, RENDER_UID_ASSIGNED, RENDERER_IMAGE_ANNOTATION
from scenefarm_operator.engine.chunking import ChunkingPolicy, decide
from scenefarm_operator.engine.manifests import chunks as chunk_manifests
from scenefarm_operator.engine.manifests import jobs as job_manifests
from scenefarm_operator.engine.plan_store import SceneEntry
from scenefarm_operator.support.settings import Settings

from .chartkit import RELEASE_NAMESPACE, Manifest, RenderError, of_kind, one, render_values
from .test_rbac import CLUSTER, Grant, granted_to, operator_account

# --- Kubernetes label selectors (metav1.LabelSelector) ---------------------------------------------


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a LabelSelector matches these labels: matchLabels and matchExpressions ANDed; an
    empty selector matches everything (as a NetworkPolicy's podSelector {} selects every Pod)."""
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In":
            ok = key in labels and labels[key] in values
        elif operator == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif operator == "Exists":
            ok = key in labels
        elif operator == "DoesNotExist":
            ok = key not in labels
        else:
            raise AssertionError(f"not a label selector operator: {operator}")
        if not ok:
            return False
    return True


def test_the_selector_semantics_are_kubernetes_own() -> None:
    labels = {"a": "1", "b": "2"}
    assert selects({}, labels)
    assert selects({"matchLabels": {"a": "1"}}, labels)
    assert not selects({"matchLabels": {"a": "2"}}, labels)
    assert not selects({"matchLabels": {"c": "1"}}, labels)
    expression = {"key": "a", "operator": "In", "values": ["1", "3"]}
    assert selects({"matchExpressions": [expression]}, labels)
    assert not selects({"matchExpressions": [expression | {"values": ["3"]}]}, labels)
    assert not selects({"matchExpressions": [{"key": "c", "operator": "In", "values": ["1"]}]}, labels)
    assert selects({"matchExpressions": [{"key": "c", "operator": "NotIn", "values": ["1"]}]}, labels)
    assert not selects({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, labels)
    assert selects({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, labels)
    assert not selects({"matchExpressions": [{"key": "c", "operator": "Exists"}]}, labels)
    assert selects({"matchExpressions": [{"key": "c", "operator": "DoesNotExist"}]}, labels)
    assert not selects({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, labels)
    both = {"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "In", "values": ["9"]}]}
    assert not selects(both, labels)


# --- every Pod template scenefarm builds --------------------------------------------------------

OWNER = {
    "apiVersion": "scenefarm.dev/v1alpha1",
    "kind": "VideoRequest",
    "metadata": {"name": "newton", "namespace": "videos", "uid": "0123456789abcdef"},
    "spec": {"topic": "Newton's laws"},
}
SCENE = SceneEntry(index=1, name="second-law", class_name="SecondLaw", revision=2, sha256="ab" * 32)
DECISION = decide(ChunkingPolicy("Auto", 10, 3), 900, 30, encode_units([Unit(60)] * 15))
SETTINGS = {
    "defaults": Settings(),
    "kueue": Settings(kueue_queue_name="render-queue"),
    "appwrite": Settings(artifact_store="Appwrite", appwrite_credentials_secret="aw-render"),
}

# Each Job builder of the operator, by name, with representative inputs.
JOB_BUILDERS: dict[str, Callable[[Settings], dict[str, Any]]] = {
    "jobs.scene_job": lambda s: job_manifests.scene_job(OWNER, s, SCENE, 1),
    "jobs.scene_stage_job": lambda s: job_manifests.scene_stage_job(
        OWNER,
        s,
        SCENE,
        name="newton-s01-a1-later",
        labels=chunk_manifests.chunk_labels("newton", 1, 1, "later-role"),
        args=[],
        with_plan=False,
    ),
    "jobs.combine_job": lambda s: job_manifests.combine_job(OWNER, s, [0, 1]),
    "jobs.cleanup_job": lambda s: job_manifests.cleanup_job(
        {**OWNER, "status": {"scenes": [{"index": 0}]}}, s, keep=[], also=["videos/old-01234567/scene-00.mp4"]
    ),
    "chunks.plan_job": lambda s: chunk_manifests.plan_job(OWNER, s, SCENE, 1),
    "chunks.chunks_job": lambda s: chunk_manifests.chunks_job(OWNER, s, SCENE, 1, DECISION),
    "chunks.stitch_job": lambda s: chunk_manifests.stitch_job(OWNER, s, SCENE, 1, DECISION),
}


def pod_templates(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every Pod scenefarm makes, by builder: each Job's Pod template, and the CLI's download Pod."""
    pods = {name: build(settings)["spec"]["template"] for name, build in JOB_BUILDERS.items()}
    store = download.Store(claim=settings.artifact_claim, image=settings.renderer_image)
    pods["cli.download"] = download.pod_manifest(OWNER, store)
    return pods


def test_every_job_builder_of_the_operator_is_checked() -> None:
    # A new builder (a new role) must be added to JOB_BUILDERS, and so proven to be fenced.
    builders = {
        f"{module.__name__.rsplit('.', 1)[1]}.{name}"
        for module in (job_manifests, chunk_manifests)
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__ and name.endswith("_job") and not name.startswith("_")
    }
    assert builders == set(JOB_BUILDERS)
    roles = {pod["metadata"]["labels"]["scenefarm.dev/role"] for pod in pod_templates(Settings()).values()}
    assert roles >= {"scene", "combine", *chunk_manifests.ROLES}


FENCED_VALUES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "watched namespaces": {"watch": {"namespaces": ["videos", "videos-b"]}},
    "appwrite store": {
        "artifacts": {"store": "Appwrite"},
        "appwrite": {
            "endpoint": "https://aw.example/v1",
            "project": "p",
            "existingSecret": "aw",
            "renderCredentialsSecret": "aw-render",
        },
        "render": {"networkPolicy": {"appwrite": {"cidrs": ["203.0.113.7/32"]}}},
    },
}


@pytest.mark.parametrize("settings", SETTINGS.values(), ids=SETTINGS.keys())
@pytest.mark.parametrize("values", FENCED_VALUES.values(), ids=FENCED_VALUES.keys())
def test_the_render_network_policy_selects_every_pod_scenefarm_builds(
    values: dict[str, Any], settings: Settings
) -> None:
    policies = of_kind(render_values(values), "NetworkPolicy")
    assert policies
    for policy in policies:
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        assert "ingress" not in policy["spec"]
        escaping = {
            builder: pod["metadata"]["labels"]["scenefarm.dev/role"]
            for builder, pod in pod_templates(settings).items()
            if not selects(policy["spec"]["podSelector"], pod["metadata"]["labels"])
        }
        assert escaping == {}, f"{policy['metadata']['namespace']}: Pods outside the policy"


def test_the_render_network_policy_leaves_the_operators_own_pod_alone() -> None:
    manifests = render_values({})
    pod_labels = one(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert not selects(one(manifests, "NetworkPolicy")["spec"]["podSelector"], pod_labels)


# --- the web intake's namespace -----------------------------------------------------------------

WEB: dict[str, Any] = {
    "appwrite": {
        "endpoint": "https://aw.example/v1",
        "project": "p",
        "existingSecret": "aw",
        "renderCredentialsSecret": "aw-render",
    },
    "render": {"networkPolicy": {"appwrite": {"cidrs": ["203.0.113.7/32"], "port": 443}}},
    "web": {"enabled": True},
}


def in_namespace(manifests: list[Manifest], kind: str, namespace: str) -> list[Manifest]:
    return [m for m in of_kind(manifests, kind) if m["metadata"].get("namespace") == namespace]


def test_the_web_namespace_is_a_created_fenced_render_namespace_without_watch_namespaces() -> None:
    manifests = render_values(WEB)
    (namespace,) = of_kind(manifests, "Namespace")
    assert namespace["metadata"]["name"] == "scenefarm-web"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert namespace["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"

    (account,) = in_namespace(manifests, "ServiceAccount", "scenefarm-web")
    assert account["metadata"]["name"] == "scenefarm-render"
    assert account["automountServiceAccountToken"] is False
    (policy,) = in_namespace(manifests, "NetworkPolicy", "scenefarm-web")
    for pod in pod_templates(Settings()).values():
        assert selects(policy["spec"]["podSelector"], pod["metadata"]["labels"])
    # Web requests keep their videos in Appwrite Storage: their render Pods may reach it, even
    # with the Volume store as the default (the release namespace's policy stays DNS-only).
    _dns, appwrite = policy["spec"]["egress"]
    assert appwrite["to"] == [{"ipBlock": {"cidr": "203.0.113.7/32"}}]
    (release_policy,) = in_namespace(manifests, "NetworkPolicy", RELEASE_NAMESPACE)
    assert len(release_policy["spec"]["egress"]) == 1
    # The operator watches all namespaces: its ClusterRole covers the web namespace, including the
    # intake's create on VideoRequests; the render account has no permissions there.
    granted = granted_to(manifests, operator_account(manifests), RELEASE_NAMESPACE)
    for resource, verb in [("videorequests", "create"), ("videorequests", "watch"), ("jobs", "create")]:
        group = "batch" if resource == "jobs" else "scenefarm.dev"
        assert Grant(CLUSTER, group, resource, "", verb) in granted
    assert granted_to(manifests, "scenefarm-render", "scenefarm-web") == set()
    assert not of_kind(manifests, "ResourceQuota")  # the chart sets no quotas anywhere


def test_the_web_namespace_gets_a_role_binding_when_namespaces_are_watched() -> None:
    values = WEB | {"watch": {"namespaces": ["videos", "scenefarm-web"]}}
    manifests = render_values(values)
    account = operator_account(manifests)
    granted = granted_to(manifests, account, RELEASE_NAMESPACE)
    assert Grant("scenefarm-web", "scenefarm.dev", "videorequests", "", "create") in granted
    (binding,) = in_namespace(manifests, "RoleBinding", "scenefarm-web")
    assert binding["subjects"][0]["name"] == account
    accounts = [sa["metadata"]["namespace"] for sa in of_kind(manifests, "ServiceAccount")]
    assert accounts.count("scenefarm-web") == 1 and "videos" in accounts  # no duplicates
    assert len(in_namespace(manifests, "NetworkPolicy", "scenefarm-web")) == 1


@pytest.mark.parametrize(
    "extra",
    [
        {"web": {"enabled": True, "createNamespace": False}},
        {"web": {"enabled": True, "namespace": RELEASE_NAMESPACE}},
    ],
    ids=["createNamespace false", "the release namespace"],
)
def test_the_web_namespace_is_not_created_when_not_asked_or_owned_elsewhere(extra: dict[str, Any]) -> None:
    manifests = render_values(WEB | extra)
    assert not of_kind(manifests, "Namespace")
    namespace = extra["web"].get("namespace", "scenefarm-web")
    accounts = in_namespace(manifests, "ServiceAccount", namespace)
    assert [sa["metadata"]["name"] for sa in accounts].count("scenefarm-render") == 1
    assert len(in_namespace(manifests, "NetworkPolicy", namespace)) == 1


def test_one_namespace_object_when_the_web_namespace_is_the_chart_managed_render_namespace() -> None:
    values = WEB | {
        "render": WEB["render"] | {"namespace": {"create": True, "name": "scenefarm-web"}},
    }
    manifests = render_values(values)
    assert [n["metadata"]["name"] for n in of_kind(manifests, "Namespace")] == ["scenefarm-web"]
    assert len(in_namespace(manifests, "ServiceAccount", "scenefarm-web")) == 1


def test_the_web_intake_needs_appwrite_egress_while_the_network_policy_is_on() -> None:
    with pytest.raises(RenderError, match=r"web\.enabled with render\.networkPolicy\.enabled needs"):
        render_values({"appwrite": WEB["appwrite"], "web": {"enabled": True}})
    off = {"appwrite": WEB["appwrite"], "web": {"enabled": True}}
    assert not of_kind(
        render_values(off | {"render": {"networkPolicy": {"enabled": False}}}), "NetworkPolicy"
    )


# --- image pull secrets -------------------------------------------------------------------------


def test_image_pull_secrets_reach_the_operator_and_every_render_pod() -> None:
    values = {
        "operator": {"imagePullSecrets": [{"name": "operator-pull"}]},
        "render": {"imagePullSecrets": [{"name": "render-pull"}]},
        "watch": {"namespaces": ["a", "b"]},
    }
    manifests = render_values(values)
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "operator-pull"}]
    accounts = [
        sa for sa in of_kind(manifests, "ServiceAccount") if sa["metadata"]["name"] == "scenefarm-render"
    ]
    assert sorted(sa["metadata"]["namespace"] for sa in accounts) == ["a", "b"]
    for account in accounts:
        assert account["imagePullSecrets"] == [{"name": "render-pull"}]
    # Kubernetes adds the account's pull secrets to Pods that run as it: every render Pod does.
    for builder, template in pod_templates(Settings()).items():
        if builder != "cli.download":
            assert template["spec"]["serviceAccountName"] == "scenefarm-render"


def test_no_pull_secrets_by_default() -> None:
    manifests = render_values({})
    assert "imagePullSecrets" not in one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert all("imagePullSecrets" not in sa for sa in of_kind(manifests, "ServiceAccount"))


def test_render_pull_secrets_need_the_chart_made_render_account() -> None:
    with pytest.raises(RenderError, match=r"render\.imagePullSecrets go on"):
        render_values({"render": {"imagePullSecrets": [{"name": "x"}], "serviceAccount": {"create": False}}})
    with pytest.raises(RenderError, match="additional properties"):
        render_values({"render": {"imagePullSecrets": [{"name": "x", "namespace": "y"}]}})


# --- the renderer image, for the CLI's download Pod ----------------------------------------------


@pytest.mark.parametrize(
    "image",
    [{}, {"repository": "registry.internal/scenefarm/renderer", "digest": "sha256:" + "a" * 64}],
    ids=["default", "private registry by digest"],
)
def test_the_render_account_names_the_renderer_image_the_operator_uses(image: dict[str, Any]) -> None:
    manifests = render_values({"render": {"image": image}} if image else {})
    container = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    renderer = next(e["value"] for e in container["env"] if e["name"] == "SCENEFARM_RENDERER_IMAGE")
    account = next(
        sa for sa in of_kind(manifests, "ServiceAccount") if sa["metadata"]["name"] == "scenefarm-render"
    )
    assert account["metadata"]["annotations"][RENDERER_IMAGE_ANNOTATION] == renderer
    assert "busybox" not in renderer


# --- OpenShift ------------------------------------------------------------------------------------


@pytest.mark.parametrize("openshift", [False, True])
def test_openshift_drops_only_the_fixed_uid_of_the_operator_pod(openshift: bool) -> None:
    pod = one(render_values({"openshift": openshift}), "Deployment")["spec"]["template"]["spec"]
    context = pod["securityContext"]
    fixed = {"runAsUser", "runAsGroup", "fsGroup"}
    if openshift:
        assert not fixed & set(context)
    else:
        assert {key: context[key] for key in fixed} == dict.fromkeys(fixed, 10001)
    assert context["runAsNonRoot"] is True
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod["containers"][0]["securityContext"]
    assert container["runAsNonRoot"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["readOnlyRootFilesystem"] is True
    assert container["capabilities"] == {"drop": ["ALL"]}


FIXED_IDS = {"runAsUser", "runAsGroup", "fsGroup"}


def fixed_ids(pod: Mapping[str, Any]) -> dict[str, set[str]]:
    """Where a Pod (template) fixes a uid, gid or fsGroup: the Pod's and each container's context."""
    spec = pod["spec"]
    found = {"pod": FIXED_IDS & set(spec.get("securityContext") or {})}
    for container in spec["containers"]:
        found[container["name"]] = FIXED_IDS & set(container.get("securityContext") or {})
    return {where: ids for where, ids in found.items() if ids}


@pytest.mark.parametrize("openshift", [False, True])
def test_openshift_tells_the_operator_and_no_pod_it_builds_fixes_a_uid(openshift: bool) -> None:
    deployment = one(render_values({"openshift": openshift}), "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    settings = Settings.from_env({k: e["value"] for k, e in env.items() if "value" in e})
    assert settings.openshift is openshift
    for builder, pod in pod_templates(settings).items():
        if builder == "cli.download":
            continue  # the CLI copies the ids of the request's Jobs (test below)
        if openshift:
            assert fixed_ids(pod) == {}, builder
        else:
            assert fixed_ids(pod) == {"pod": FIXED_IDS, "render": {"runAsUser", "runAsGroup"}}, builder


def test_the_download_pod_fixes_no_uid_where_the_jobs_fix_none() -> None:
    store = download.Store(claim="c", image="i", run_as_user=None, run_as_group=None)
    assert fixed_ids(download.pod_manifest(OWNER, store)) == {}
    assert fixed_ids(download.pod_manifest(OWNER, download.Store(claim="c", image="i"))) == {
        "pod": {"runAsUser", "runAsGroup"}
    }


@pytest.mark.parametrize("openshift", [False, True])
def test_the_render_account_tells_the_download_pod_its_uid(openshift: bool) -> None:
    manifests = render_values({"openshift": openshift})
    account = next(
        sa for sa in of_kind(manifests, "ServiceAccount") if sa["metadata"]["name"] == "scenefarm-render"
    )
    annotated = account["metadata"]["annotations"][RENDER_UID_ANNOTATION]
    assert annotated == (RENDER_UID_ASSIGNED if openshift else str(job_manifests.RENDER_UID))
