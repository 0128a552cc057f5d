"""Which field selectors each kind supports, as the real server's field label conversions allow.

Every kind supports metadata.name and metadata.namespace; a few kinds add their own (pkg/registry
/*/strategy.go, GetAttrs / AddFieldLabelConversionFunc). Anything else is a 400: a selector that
worked against a lenient stand-in would fail on a real cluster.
"""

from __future__ import annotations

from collections.abc import Mapping

from scenefarm_devkit.apiserver.errors import BadRequest
from scenefarm_devkit.apiserver.resources import ResourceType
from scenefarm_devkit.apiserver.selectors import parse_field_selector

COMMON = frozenset({"metadata.name", "metadata.namespace"})
_EVENT = frozenset(
    {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    }
)
BY_KIND: Mapping[tuple[str, str], frozenset[str]] = {
    ("", "pods"): frozenset(
        {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        }
    ),
    ("batch", "jobs"): frozenset({"status.successful"}),
    ("", "events"): _EVENT,
    ("events.k8s.io", "events"): _EVENT,  # served from the same storage as core/v1 Events
    ("", "namespaces"): frozenset({"status.phase"}),
    ("", "secrets"): frozenset({"type"}),
    ("", "nodes"): frozenset({"spec.unschedulable"}),
    ("", "replicationcontrollers"): frozenset({"status.replicas"}),
    ("apps", "replicasets"): frozenset({"status.replicas"}),
    ("", "persistentvolumeclaims"): frozenset(),
    ("", "configmaps"): frozenset(),
}


def check(rt: ResourceType, field_selector: str | None) -> None:
    """Raise the real server's 400 for a field label the kind does not support."""
    if not field_selector:
        return
    allowed = COMMON | BY_KIND.get((rt.group, rt.plural), frozenset())
    for path, _equal, _value in parse_field_selector(field_selector):
        if path not in allowed:
            raise BadRequest(f"field label not supported: {path}")
