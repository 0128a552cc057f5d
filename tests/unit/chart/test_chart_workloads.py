"""What the chart runs: the operator Deployment per mode, and the fence around render Pods."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .chartkit import (
    CHART,
    CI_VALUES,
    RELEASE_NAMESPACE,
    REPO,
    Manifest,
    RenderError,
    helm,
    of_kind,
    one,
    render_values,
)

APPWRITE = {
    "artifacts": {"store": "Appwrite"},
    "appwrite": {
        "endpoint": "https://aw.example.com/v1",
        "project": "p1",
        "existingSecret": "aw-operator",
        "renderCredentialsSecret": "aw-render",
    },
    "gemini": {"existingSecret": "gemini"},
    "render": {"networkPolicy": {"appwrite": {"cidrs": ["203.0.113.7/32"], "port": 8443}}},
}


def operator_container(manifests: list[Manifest]) -> dict[str, Any]:
    return one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def env_of(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in operator_container(manifests)["env"]}


def test_one_replica_runs_standalone_over_all_namespaces_and_recreates_on_upgrade() -> None:
    manifests = render_values({})
    container = operator_container(manifests)
    assert container["command"] == ["kopf", "run"]
    assert container["args"][:2] == ["-m", "scenefarm_operator.main"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["args"]
    assert {"--standalone", "--all-namespaces"} <= set(container["args"])
    # The new Pod stands by until the old one releases the Lease: no gap, no second active Pod.
    assert one(manifests, "Deployment")["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    assert not of_kind(manifests, "PodDisruptionBudget")
    assert env_of(manifests)["SCENEFARM_NAMESPACES"]["value"] == ""


def test_several_replicas_run_kopf_standalone_and_keep_one_pod_through_disruptions() -> None:
    # The Lease picks the one active replica; kopf peering would pause a new leader for as long as
    # the dead one's entry of the same priority lives (60 s), so it is never switched on.
    manifests = render_values({"operator": {"replicas": 2}})
    args = operator_container(manifests)["args"]
    assert "--standalone" in args and not [a for a in args if a.startswith(("--peering", "--priority"))]
    assert not of_kind(manifests, "ClusterKopfPeering") and not of_kind(manifests, "KopfPeering")
    pdb = one(manifests, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    pod_labels = one(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert env_of(manifests)["POD_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_a_namespace_list_becomes_one_flag_per_namespace_and_the_namespaces_setting() -> None:
    manifests = render_values({"watch": {"namespaces": ["a", "b"]}, "operator": {"replicas": 2}})
    args = operator_container(manifests)["args"]
    assert [a for a in args if a.startswith("--namespace")] == ["--namespace=a", "--namespace=b"]
    assert "--all-namespaces" not in args
    assert env_of(manifests)["SCENEFARM_NAMESPACES"]["value"] == "a,b"


def test_the_operator_pod_meets_the_restricted_pod_security_standard() -> None:
    manifests = render_values({})
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    container = pod["containers"][0]["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]
    assert container["readOnlyRootFilesystem"] is True
    probes = pod["containers"][0]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert probes[probe]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_the_kueue_queue_name_is_passed_only_when_set() -> None:
    assert "SCENEFARM_KUEUE_QUEUE_NAME" not in env_of(render_values({}))
    env = env_of(render_values({"render": {"kueueQueueName": "renders"}}))
    assert env["SCENEFARM_KUEUE_QUEUE_NAME"]["value"] == "renders"


def test_api_keys_come_from_secrets_and_never_from_plain_values() -> None:
    env = env_of(render_values(APPWRITE))
    assert env["SCENEFARM_APPWRITE_API_KEY"] == {
        "name": "SCENEFARM_APPWRITE_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": "aw-operator", "key": "api-key"}},
    }
    assert env["SCENEFARM_GEMINI_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "gemini"
    assert env["SCENEFARM_APPWRITE_CREDENTIALS_SECRET"]["value"] == "aw-render"
    assert not of_kind(render_values(APPWRITE), "Secret")


def test_without_secret_references_no_api_key_variables_are_set() -> None:
    assert not {"SCENEFARM_APPWRITE_API_KEY", "SCENEFARM_GEMINI_API_KEY"} & set(env_of(render_values({})))


def test_render_service_accounts_mount_no_token_in_every_render_namespace() -> None:
    manifests = render_values({"watch": {"namespaces": ["a", "b"]}})
    accounts = [
        sa for sa in of_kind(manifests, "ServiceAccount") if sa["metadata"]["name"] == "scenefarm-render"
    ]
    assert sorted(sa["metadata"]["namespace"] for sa in accounts) == ["a", "b"]
    assert all(sa["automountServiceAccountToken"] is False for sa in accounts)


def test_render_pods_may_reach_only_dns_by_default() -> None:
    policy = one(render_values({}), "NetworkPolicy")
    selector = policy["spec"]["podSelector"]
    # Every Pod the operator makes, whatever its role (test_chart_render_fence.py proves it per Pod).
    assert selector == {"matchLabels": {"app.kubernetes.io/managed-by": "scenefarm"}}
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policy["spec"]
    (dns,) = policy["spec"]["egress"]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}


def test_the_appwrite_store_opens_egress_to_the_appwrite_endpoint_only() -> None:
    policy = one(render_values(APPWRITE), "NetworkPolicy")
    _dns, appwrite = policy["spec"]["egress"]
    assert appwrite == {
        "to": [{"ipBlock": {"cidr": "203.0.113.7/32"}}],
        "ports": [{"protocol": "TCP", "port": 8443}],
    }


def test_the_operators_own_pods_are_outside_the_render_network_policy() -> None:
    pod_labels = one(render_values({}), "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert pod_labels.get("app.kubernetes.io/managed-by") != "scenefarm"


def test_a_chart_managed_render_namespace_enforces_restricted_pod_security_and_is_kept() -> None:
    manifests = render_values({"render": {"namespace": {"create": True, "name": "renders"}}})
    namespace = one(manifests, "Namespace")
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    assert namespace["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    render_namespaces = {sa["metadata"]["namespace"] for sa in of_kind(manifests, "ServiceAccount")}
    assert "renders" in render_namespaces


def test_the_volume_store_can_create_a_kept_read_write_many_claim_per_render_namespace() -> None:
    values = {"artifacts": {"volume": {"persistence": {"create": True}}}, "watch": {"namespaces": ["a", "b"]}}
    claims = of_kind(render_values(values), "PersistentVolumeClaim")
    assert sorted(c["metadata"]["namespace"] for c in claims) == ["a", "b"]
    for claim in claims:
        assert claim["metadata"]["name"] == "scenefarm-artifacts"
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
        assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert not of_kind(
        render_values({**APPWRITE, **{"watch": {"namespaces": ["a"]}}}), "PersistentVolumeClaim"
    )


@pytest.mark.parametrize("switch", ["monitor", "plain"])
def test_the_service_monitor_selects_the_metrics_service(switch: str) -> None:
    manifests = render_values(
        {"metrics": {"enabled": True, "serviceMonitor": {"enabled": switch == "monitor"}}}
    )
    service = one(manifests, "Service")
    assert env_of(manifests)["SCENEFARM_METRICS_PORT"]["value"] == "9090"
    monitors = of_kind(manifests, "ServiceMonitor")
    assert len(monitors) == (switch == "monitor")
    for monitor in monitors:
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


@pytest.mark.parametrize("values", CI_VALUES, ids=[p.name for p in CI_VALUES])
def test_notes_tell_the_next_step_and_how_to_apply_crds_before_upgrades(values: Path) -> None:
    done = helm("install", "sf", str(CHART), "-n", "scenefarm-system", "--dry-run=client", "-f", str(values))
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    assert "rollout status deployment/sf-scenefarm" in notes
    assert "kubectl apply --server-side -f charts/scenefarm/crds/" in notes
    assert re.search(r"kubectl apply -n [a-z0-9-]+ -f examples/template-planner.yaml", notes)
    assert "<no value>" not in notes and "%!" not in notes


def test_the_operator_dockerfile_is_pinned_non_root_and_runs_kopf() -> None:
    dockerfile = (REPO / "deploy" / "operator.Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert bases and all(re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", b) for b in bases), bases
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^USER 10001:10001$", final_stage, re.MULTILINE)
    assert 'ENTRYPOINT ["kopf", "run"]' in final_stage
    assert "build-essential" not in final_stage and "-dev" not in final_stage
    chart_user = one(render_values({}), "Deployment")["spec"]["template"]["spec"]["securityContext"][
        "runAsUser"
    ]
    assert f"USER {chart_user}:" in final_stage


def test_every_replica_elects_one_leader_through_the_releases_lease() -> None:
    for replicas in (1, 2):
        env = env_of(render_values({"operator": {"replicas": replicas}}))
        assert env["SCENEFARM_LEADER_ELECTION_LEASE"]["value"] == "sf-scenefarm"
        assert env["SCENEFARM_LEADER_ELECTION_NAMESPACE"]["value"] == RELEASE_NAMESPACE
        identity = env["SCENEFARM_LEADER_ELECTION_IDENTITY"]["valueFrom"]["fieldRef"]["fieldPath"]
        assert identity == "metadata.name"
        timing = [
            env[f"SCENEFARM_{k}_SECONDS"]["value"]
            for k in ("LEASE_DURATION", "RENEW_DEADLINE", "RETRY_PERIOD")
        ]
        assert timing == ["15", "10", "2"]
        assert env["SCENEFARM_HEALTH_PORT"]["value"] == "8080"


def test_leader_election_timings_that_cannot_fence_are_refused() -> None:
    with pytest.raises(RenderError, match="renewDeadlineSeconds < leaseDurationSeconds"):
        render_values({"operator": {"leaderElection": {"renewDeadlineSeconds": 15}}})
