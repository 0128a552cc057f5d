"""Admission for every write, in the real server's order: decode, validate, admission plugins, storage.

- decoding: JSON nulls are dropped (the Go decoder leaves a null field at its zero value, and a
  custom resource's structural schema prunes them), a wrong type is a 400;
- validation: names, labels, annotations (256 KiB), the official OpenAPI schema of the built-in
  kinds in builtin_schemas, and the rules of semantics (resources, podFailurePolicy, ConfigMap size)
  and jobrules (Indexed Jobs, immutable completionMode);
- plugins: ServiceAccount (a Pod's service account must exist), OpenShift's SecurityContextConstraint
  (restricted-v2, in namespaces with pre-allocated UID ranges or on a cluster that plays OpenShift,
  scc.py) and, for identities whose RBAC is enforced, OwnerReferencesPermissionEnforcement
  (blockOwnerDeletion needs `update` on the owner's `finalizers` subresource, as OpenShift and
  hardened clusters enable it). The mutating plugins name a Pod by its generateName when the
  server made its name (they run before the name is generated);
- storage: etcd refuses a request over 1.5 MiB.

The identity of the request in flight is a context variable the HTTP handler sets: the Api's
methods stay free of authentication arguments.
"""

from __future__ import annotations

import contextvars
import json
from typing import Any

from scenefarm_devkit.apiserver import builtin_schemas, defaulting, errors, jobrules, scc, semantics, webhooks
from scenefarm_devkit.apiserver.authorization import Attributes, Authorizer, Forbidden
from scenefarm_devkit.apiserver.managedfields import WRITER
from scenefarm_devkit.apiserver.resources import Registry, ResourceType
from scenefarm_devkit.apiserver.store import Store

IDENTITY: contextvars.ContextVar[str] = contextvars.ContextVar(
    "scenefarm_apiserver_identity", default="admin"
)
ETCD_REQUEST_LIMIT = 1536 * 1024  # etcd's --max-request-bytes default
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024  # the kube-apiserver's own limit on a request body
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
DEFAULT_SERVICE_ACCOUNT = "default"  # the service-account controller makes one in every namespace


class RequestEntityTooLarge(errors.ApiError):
    code = 413
    reason = "RequestEntityTooLarge"


def drop_nulls(value: Any) -> Any:
    """What the Go decoder keeps of a built-in object: no null fields (list items stay)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


class Admission:
    """Checks one object on its way to the store; `authorizer` is set when RBAC is enforced."""

    def __init__(self, registry: Registry, store: Store) -> None:
        self.registry = registry
        self.store = store
        self.authorizer: Authorizer | None = None
        self.webhooks = webhooks.Webhooks(store)  # dynamic admission (admissionregistration.k8s.io/v1)
        # Kueue's mutating webhook: a Job with a queue-name label is created suspended (tests set it).
        self.kueue = False
        # A cluster that plays OpenShift: restricted-v2 admits every Pod, not only in namespaces
        # that carry a uid range (DevCluster(openshift=True) also runs the allocator).
        self.openshift = False

    def admit(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, *, requested: str = ""
    ) -> dict[str, Any]:
        """The object as it will be stored; raises the ApiError the real server would answer.
        `requested`: a create's name as the request gave it (its generateName when it had none)."""
        if rt.builtin:
            obj = drop_nulls(obj)
            defaulting.defaults(rt.group, rt.plural, obj)  # the scheme's SetDefaults_*, on every decode
        writer = WRITER.get()
        hook_args = {"subresource": writer.subresource if writer else "", "username": IDENTITY.get()}
        obj = self.webhooks.admit(rt, obj, old, mutating=True, **hook_args)
        name = obj.get("metadata", {}).get("name", "")
        causes = self._metadata_causes(rt, obj, creating=old is None)
        if rt.builtin:
            decode, schema_causes = builtin_schemas.check(rt.group, rt.kind, obj)
            if decode:
                raise errors.BadRequest(
                    f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {decode[0]}'
                )
            causes += schema_causes + self._semantic_causes(rt, obj, old)
        if causes:
            raise errors.invalid(rt.kind, rt.group, name, causes)
        if rt.group == "" and rt.plural == "pods" and old is None:
            pod_name = requested or name
            self._service_account(obj, pod_name)
            self._security_context_constraints(obj, pod_name)
        if self.kueue and old is None and _queued_job(rt, obj):
            obj.setdefault("spec", {})["suspend"] = True  # admitted later by un-suspending
        self._owner_references(rt, obj, old)
        self.webhooks.admit(rt, obj, old, mutating=False, **hook_args)
        size = len(json.dumps(obj, separators=(",", ":")))
        if size > ETCD_REQUEST_LIMIT:
            raise RequestEntityTooLarge("etcdserver: request is too large")
        return obj

    # -- validation ----------------------------------------------------------------------------

    def _metadata_causes(
        self, rt: ResourceType, obj: dict[str, Any], *, creating: bool
    ) -> list[dict[str, str]]:
        meta = obj.get("metadata") or {}
        causes = semantics.name_causes(rt.kind, str(meta.get("name", ""))) if creating else []
        causes += semantics.label_causes(meta.get("labels") or {}, "metadata.labels")
        causes += semantics.annotation_causes(meta.get("annotations") or {})
        return causes

    def _semantic_causes(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[dict[str, str]]:
        spec = obj.get("spec") or {}
        if (rt.group, rt.kind) == ("", "Pod"):
            return semantics.pod_spec_causes(spec, "spec")
        if (rt.group, rt.kind) == ("batch", "Job"):
            template = spec.get("template") or {}
            causes = semantics.label_causes(
                (template.get("metadata") or {}).get("labels") or {}, "spec.template.metadata.labels"
            )
            causes += semantics.pod_spec_causes(template.get("spec") or {}, "spec.template.spec")
            causes += semantics.pod_failure_policy_causes(spec) + jobrules.completion_mode_causes(spec)
            causes += jobrules.restart_policy_causes(spec) + jobrules.policy_causes(spec)
            if old is None:
                return causes + jobrules.hostname_causes(str(obj["metadata"].get("name", "")), spec)
            old_spec = old.get("spec") or {}
            causes += jobrules.update_causes(spec, old_spec)
            return causes + jobrules.immutable_causes(spec, old_spec, old.get("status") or {})
        if (rt.group, rt.kind) == ("", "ConfigMap"):
            immutable = semantics.immutable_data_causes(obj, old) if old is not None else []
            return semantics.configmap_causes(obj) + immutable
        if (rt.group, rt.kind) == ("", "Secret"):
            return semantics.secret_causes(obj, old)
        return []

    # -- admission plugins ---------------------------------------------------------------------

    def _service_account(self, pod: dict[str, Any], name: str) -> None:
        """plugin/pkg/admission/serviceaccount: the Pod's service account must exist."""
        spec = pod.setdefault("spec", {})
        account = spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
        spec["serviceAccountName"] = account
        namespace = pod["metadata"].get("namespace", "")
        if account == DEFAULT_SERVICE_ACCOUNT:
            return  # made by the service-account controller in every namespace of a real cluster
        if self.store.get(("", "serviceaccounts", namespace, account)) is None:
            raise forbidden(
                "pods",
                "",
                name,
                f"error looking up service account {namespace}/{account}: "
                f'serviceaccount "{account}" not found',
            )

    def _security_context_constraints(self, pod: dict[str, Any], name: str) -> None:
        """security.openshift.io/SecurityContextConstraint: restricted-v2 completes or refuses the Pod."""
        namespace = self.store.get(("", "namespaces", "", pod["metadata"].get("namespace", "")))
        refused = scc.admit(pod, namespace, required=self.openshift)
        if refused is not None:
            raise forbidden("pods", "", name, refused)

    def _owner_references(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """plugin/pkg/admission/gc: OwnerReferencesPermissionEnforcement, for enforced identities."""
        identity = IDENTITY.get()
        authorizer = self.authorizer
        if authorizer is None or identity not in authorizer.enforce_for:
            return
        new_refs = obj.get("metadata", {}).get("ownerReferences") or []
        old_refs = (old or {}).get("metadata", {}).get("ownerReferences") or []
        if new_refs == old_refs:
            return
        subject = authorizer.subject(identity)
        meta = obj["metadata"]
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        if old is not None and not authorizer.allows(
            subject, Attributes("delete", rt.group, rt.plural, "", namespace, name)
        ):
            raise forbidden(
                rt.plural, rt.group, name, "cannot set an ownerRef on a resource you can't delete: , <nil>"
            )
        blocking_before = {r.get("uid") for r in old_refs if r.get("blockOwnerDeletion")}
        for ref in new_refs:
            if not ref.get("blockOwnerDeletion") or ref.get("uid") in blocking_before:
                continue
            owner = self.registry.by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
            if owner is None:
                raise forbidden(
                    rt.plural,
                    rt.group,
                    name,
                    "cannot set blockOwnerDeletion in this case because cannot find RESTMapping for "
                    f"APIVersion {ref.get('apiVersion')} Kind {ref.get('kind')}",
                )
            finalizers = Attributes(
                "update", owner.group, owner.plural, "finalizers", namespace, ref.get("name", "")
            )
            if not authorizer.allows(subject, finalizers):
                raise forbidden(
                    rt.plural,
                    rt.group,
                    name,
                    "cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set "
                    "finalizers on: , <nil>",
                )


def _queued_job(rt: ResourceType, obj: dict[str, Any]) -> bool:
    return (rt.group, rt.plural) == ("batch", "jobs") and bool(
        (obj["metadata"].get("labels") or {}).get(KUEUE_QUEUE_LABEL)
    )


def forbidden(plural: str, group: str, name: str, reason: str) -> errors.ApiError:
    """An admission plugin's 403: `<resource> "<name>" is forbidden: <reason>`."""
    target = errors.qualified(plural, group)
    return Forbidden(
        f'{target} "{name}" is forbidden: {reason}', details={"name": name, "group": group, "kind": plural}
    )
