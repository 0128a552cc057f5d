"""The Argo CD health check and kstatus agree with each other on VideoRequest status samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .chartkit import CHART, argocd_health, kstatus, one, render_values

SAMPLES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "health-samples.yaml").read_text())
IDS = [sample["name"] for sample in SAMPLES]

# What each Argo CD health means in kstatus terms (kstatus has no "suspended": a paused resource
# is not being worked on, so it is Current).
ARGO_TO_KSTATUS = {
    "Healthy": "Current",
    "Progressing": "InProgress",
    "Degraded": "Failed",
    "Suspended": "Current",
}


def as_video_request(sample: dict[str, Any]) -> dict[str, Any]:
    resource = {"apiVersion": "scenefarm.dev/v1alpha1", "kind": "VideoRequest", **sample["resource"]}
    resource["metadata"] = {"name": "newton", "namespace": "videos", **resource["metadata"]}
    return resource


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_argocd_health_check_reports_the_expected_health(sample: dict[str, Any]) -> None:
    health = argocd_health(as_video_request(sample))
    assert health["status"] == sample["argocd"], health["message"]
    if "argocdMessage" in sample:
        assert health["message"] == sample["argocdMessage"]
    assert health["message"], "Argo CD shows the message to people; it must never be empty"


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_kstatus_rules_compute_the_expected_status(sample: dict[str, Any]) -> None:
    assert kstatus(as_video_request(sample)) == sample["kstatus"]


LIVE = [s for s in SAMPLES if "deletionTimestamp" not in s["resource"]["metadata"]]


@pytest.mark.parametrize("sample", LIVE, ids=[s["name"] for s in LIVE])
def test_argocd_and_kstatus_agree_whenever_the_operator_writes_conditions(sample: dict[str, Any]) -> None:
    agree = ARGO_TO_KSTATUS[sample["argocd"]] == sample["kstatus"]
    # Blind spots are samples without kstatus' inputs (conditions/observedGeneration); the operator
    # always writes both, so they only exist between creation and the first reconcile.
    assert agree != sample.get("kstatusBlindSpot", False), sample["name"]


def test_the_chart_ships_the_health_check_under_the_argocd_cm_key_when_switched_on() -> None:
    manifests = render_values({"argocd": {"healthCheck": {"enabled": True}}})
    configmap = one(manifests, "ConfigMap")
    script = configmap["data"]["resource.customizations.health.scenefarm.dev_VideoRequest"]
    assert script == (CHART / "files" / "argocd-health.lua").read_text()


def test_the_health_check_configmap_is_off_by_default() -> None:
    assert not [m for m in render_values({}) if m["kind"] == "ConfigMap"]


PHASE_HEALTH = {
    "Pending": "Progressing",
    "Planning": "Progressing",
    "Rendering": "Progressing",
    "Combining": "Progressing",
    "Succeeded": "Healthy",
    "Failed": "Degraded",
    "Suspended": "Suspended",
    "Cancelled": "Suspended",
}


@pytest.mark.parametrize(("phase", "health"), PHASE_HEALTH.items())
def test_status_written_by_the_operator_gets_the_same_health_from_argocd_and_kstatus(
    phase: str, health: str
) -> None:
    from scenefarm_operator.engine import conditions

    resource = {
        "metadata": {"generation": 2},
        "status": {
            "phase": phase,
            "observedGeneration": 2,
            "conditions": conditions.for_phase(phase, phase, f"{phase} for a test", 2),
        },
    }
    assert argocd_health(resource)["status"] == health
    assert kstatus(resource) == ARGO_TO_KSTATUS[health]
