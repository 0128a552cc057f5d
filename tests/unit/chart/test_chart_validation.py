"""Offline validation: helm lint, every CI values set rendered and checked against Kubernetes schemas."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest

from .chartkit import CHART, CI_VALUES, RenderError, helm, render, render_values

# kubernetes-validate 1.37.0 ships schemas for 1.25 ... 1.37, so all three targets are exact.
KUBERNETES_VERSIONS = ["1.30", "1.33", "1.36"]
CI_IDS = [path.name.removesuffix("-values.yaml") for path in CI_VALUES]

# Kinds from CRDs the chart does not own (prometheus-operator); rendered only behind a switch.
FOREIGN_KINDS = {"ServiceMonitor", "PrometheusRule"}


def test_the_ci_values_sets_cover_every_mode_the_issue_names() -> None:
    assert set(CI_IDS) >= {"default", "namespaced", "ha", "appwrite", "volume-pvc"}


@pytest.mark.parametrize("values", CI_VALUES, ids=CI_IDS)
def test_helm_lint_strict_passes(values: Path) -> None:
    done = helm("lint", "--strict", str(CHART), "--values", str(values))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[WARNING]" not in done.stdout and "[ERROR]" not in done.stdout


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("values", CI_VALUES, ids=CI_IDS)
def test_rendered_manifests_are_valid_kubernetes_objects(values: Path, version: str) -> None:
    manifests = render(values, include_crds=True)
    checked = 0
    for manifest in manifests:
        if manifest["kind"] in FOREIGN_KINDS:
            continue
        used = kubernetes_validate.validate(manifest, f"{version}.0", strict=True)
        assert used == version, f"validated against {used}, not {version}"
        checked += 1
    assert checked >= 6


@pytest.mark.parametrize("values", CI_VALUES, ids=CI_IDS)
def test_no_values_set_renders_kopf_peering_objects(values: Path) -> None:
    # One replica acts through the leader-election Lease; kopf runs --standalone (docs/reliability.md).
    assert not {m["kind"] for m in render(values)} & {"ClusterKopfPeering", "KopfPeering"}


def test_unknown_values_are_rejected_by_the_schema() -> None:
    with pytest.raises(RenderError, match="additional properties"):
        render_values({"operator": {"replica": 2}})


def test_the_appwrite_store_without_an_endpoint_is_rejected_at_install_time() -> None:
    with pytest.raises(RenderError, match="endpoint"):
        render_values(
            {"artifacts": {"store": "Appwrite"}, "appwrite": {"existingSecret": "aw", "project": "p"}}
        )


def test_the_appwrite_store_without_egress_cidrs_is_rejected_while_the_network_policy_is_on() -> None:
    appwrite = {
        "endpoint": "https://aw/v1",
        "project": "p",
        "existingSecret": "aw",
        "renderCredentialsSecret": "r",
    }
    with pytest.raises(RenderError, match="cidrs"):
        render_values({"artifacts": {"store": "Appwrite"}, "appwrite": appwrite})


# Maps whose entries are data (a Kubernetes resource list, label selectors), not chart settings.
LITERAL_MAPS = {"requests", "limits", "namespaceSelector", "podSelector"}


def test_every_value_has_a_comment_above_it() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    parents: list[tuple[int, str]] = []  # (indent, key) of the enclosing sections
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "- ")):
            continue
        indent = len(line) - len(line.lstrip())
        parents = [(i, k) for i, k in parents if i < indent]
        key, _, value = stripped.partition(":")
        if not (parents and parents[-1][1] in LITERAL_MAPS) and value.strip():
            assert lines[number - 1].strip().startswith("#"), (
                f"values.yaml:{number + 1} has no comment: {line}"
            )
        if not value.strip():
            parents.append((indent, key))


def test_every_schema_object_forbids_unknown_keys() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    passthrough = {"affinity", "global", "extraEnv", "tolerations", "claims"}

    def walk(node: dict, path: str) -> None:
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, path
        for key, child in node.get("properties", {}).items():
            if key not in passthrough:
                walk(child, f"{path}.{key}")

    walk(schema, "")
