"""Resource types the server serves: the built-in kinds and the ones CRDs register."""

from __future__ import annotations

import dataclasses
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclasses.dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_status: bool = False
    # The CRD's openAPIV3Schema for this version; None for built-ins (not validated).
    schema: dict[str, Any] | None = None
    printer_columns: tuple[dict[str, Any], ...] = ()
    builtin: bool = True
    verbs: tuple[str, ...] = ALL_VERBS

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.plural)

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    def discovery(self) -> list[dict[str, Any]]:
        """Entries of an APIResourceList: the resource itself and its subresources."""
        main = {
            "name": self.plural,
            "singularName": self.singular_name,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        entries: list[dict[str, Any]] = [main]
        if self.has_status:
            entries.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        return entries


def _b(group: str, version: str, plural: str, kind: str, **kw: Any) -> ResourceType:
    return ResourceType(group=group, version=version, plural=plural, kind=kind, **kw)


BUILTINS: tuple[ResourceType, ...] = (
    _b("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",), has_status=True),
    _b("", "v1", "pods", "Pod", short_names=("po",), categories=("all",), has_status=True),
    _b("", "v1", "services", "Service", short_names=("svc",), categories=("all",), has_status=True),
    _b("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    _b("", "v1", "secrets", "Secret"),
    _b("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    _b("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short_names=("pvc",), has_status=True),
    _b("", "v1", "events", "Event", short_names=("ev",)),
    _b("", "v1", "nodes", "Node", namespaced=False, short_names=("no",), has_status=True),
    _b(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short_names=("deploy",),
        categories=("all",),
        has_status=True,
    ),
    _b("apps", "v1", "replicasets", "ReplicaSet", short_names=("rs",), categories=("all",), has_status=True),
    _b(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short_names=("sts",),
        categories=("all",),
        has_status=True,
    ),
    _b("batch", "v1", "jobs", "Job", categories=("all",), has_status=True),
    _b("batch", "v1", "cronjobs", "CronJob", short_names=("cj",), categories=("all",), has_status=True),
    _b("", "v1", "endpoints", "Endpoints", short_names=("ep",)),
    _b("", "v1", "limitranges", "LimitRange", short_names=("limits",)),
    _b("", "v1", "resourcequotas", "ResourceQuota", short_names=("quota",), has_status=True),
    _b(
        "",
        "v1",
        "persistentvolumes",
        "PersistentVolume",
        namespaced=False,
        short_names=("pv",),
        has_status=True,
    ),
    _b("apps", "v1", "daemonsets", "DaemonSet", short_names=("ds",), categories=("all",), has_status=True),
    _b("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short_names=("pdb",), has_status=True),
    _b("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short_names=("netpol",)),
    _b("networking.k8s.io", "v1", "ingresses", "Ingress", short_names=("ing",), has_status=True),
    _b("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False),
    _b("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    _b(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short_names=("hpa",),
        categories=("all",),
        has_status=True,
    ),
    _b("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", namespaced=False, short_names=("pc",)),
    _b("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False, short_names=("sc",)),
    _b("events.k8s.io", "v1", "events", "Event", short_names=("ev",)),
    _b(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        namespaced=False,
        verbs=("create",),
    ),
    _b(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        namespaced=False,
        verbs=("create",),
    ),
    _b(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
        namespaced=False,
        verbs=("create",),
    ),
    _b("coordination.k8s.io", "v1", "leases", "Lease"),
    _b(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        namespaced=False,
        categories=("api-extensions",),
    ),
    _b(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        namespaced=False,
        categories=("api-extensions",),
    ),
    _b("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _b("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _b("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _b("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    _b(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        has_status=True,
    ),
)

CRD_TYPE = BUILTINS[-1]
NAMESPACE_TYPE = BUILTINS[0]


def from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of a CustomResourceDefinition."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    result = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        result.append(
            ResourceType(
                group=spec.get("group", ""),
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular", ""),
                short_names=tuple(names.get("shortNames", [])),
                categories=tuple(names.get("categories", [])),
                has_status="status" in (version.get("subresources") or {}),
                schema=schema,
                printer_columns=tuple(version.get("additionalPrinterColumns", [])),
                builtin=False,
            )
        )
    return result


class Registry:
    """The set of served resource types, looked up by (group, version, plural)."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {rt.key: rt for rt in BUILTINS}

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rt in self._types.values():
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        return None

    def all(self) -> list[ResourceType]:
        return list(self._types.values())

    def register_crd(self, crd: dict[str, Any]) -> None:
        self.unregister_crd(crd)
        for rt in from_crd(crd):
            self._types[rt.key] = rt

    def unregister_crd(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec", {})
        group, plural = spec.get("group"), spec.get("names", {}).get("plural")
        for key in [k for k, rt in self._types.items() if not rt.builtin]:
            if key[0] == group and key[2] == plural:
                del self._types[key]

    def groups(self) -> dict[str, list[str]]:
        """group -> served versions (order of registration; the first is preferred)."""
        result: dict[str, list[str]] = {}
        for rt in self._types.values():
            versions = result.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return result
