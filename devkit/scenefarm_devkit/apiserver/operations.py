"""What each write means: the kube-apiserver semantics on top of the plain store.

Identity (uid, creationTimestamp, generateName), generation bumps, the status subresource split,
optimistic concurrency, finalizers and graceful deletion, ownerReference garbage collection,
namespace existence, CRD registration, and custom-resource admission (prune, default, validate).
"""

from __future__ import annotations

import copy
import datetime
import secrets
import string
import uuid
from typing import Any

from scenefarm_devkit.apiserver import defaulting, errors, patching, timestamps, validation
from scenefarm_devkit.apiserver.admission import Admission
from scenefarm_devkit.apiserver.authorization import Forbidden
from scenefarm_devkit.apiserver.resources import CRD_TYPE, NAMESPACE_TYPE, Registry, ResourceType
from scenefarm_devkit.apiserver.store import Key, Store

_SERVER_OWNED_META = (
    "uid",
    "creationTimestamp",
    "resourceVersion",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "namespace",
    "name",
)
_NAME_ALPHABET = string.ascii_lowercase + string.digits


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod_grace(rt: ResourceType, obj: dict[str, Any], options: dict[str, Any]) -> int:
    """Seconds a deleted Pod gets to stop, as the Pod registry strategy decides: 0 (removed at once)
    unless it is bound to a node and not finished; else DeleteOptions' gracePeriodSeconds, or the
    Pod's terminationGracePeriodSeconds. Only Pods on a node with a kubelet that honours it
    (spec.nodeName: the dev kit's Deployment node) are bound; the Job runner's Pods are not."""
    if rt.group != "" or rt.plural != "pods":
        return 0
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        return 0
    grace = options.get("gracePeriodSeconds")
    if grace is None:
        grace = spec.get("terminationGracePeriodSeconds", 30)
    return max(0, int(grace))


def _without(obj: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in fields}


class Api:
    def __init__(self, registry: Registry, store: Store) -> None:
        self.registry = registry
        self.store = store
        self.admission = Admission(registry, store)  # built-in kinds, names, sizes, admission plugins
        # Garbage collection of dependents whose owners are gone: None collects them right after the
        # delete (and `collect_garbage` catches the rest); seconds: only the background collector
        # does, that long after it first saw the dependent orphaned (the real controller's delay).
        self.gc_delay: float | None = None
        self._orphaned_since: dict[Key, float] = {}
        for name in ("default", "kube-system", "kube-public"):
            if self.store.get(("", "namespaces", "", name)) is not None:
                self._default_service_account(name)  # restored from the journal of a persistent store
                continue
            self._put_new(
                NAMESPACE_TYPE,
                "",
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": name},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                },
            )

    # -- reading -------------------------------------------------------------------------------

    def key(self, rt: ResourceType, namespace: str | None, name: str) -> Key:
        return (rt.group, rt.plural, namespace or "" if rt.namespaced else "", name)

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.store.get(self.key(rt, namespace, name))
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return self.present(rt, obj)

    def present(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """A copy as the client sees it, in the apiVersion it asked for."""
        result = copy.deepcopy(obj)
        result["apiVersion"] = rt.api_version
        result["kind"] = rt.kind
        return result

    # -- creating ------------------------------------------------------------------------------

    def create(
        self, rt: ResourceType, namespace: str | None, body: Any, *, strict: bool = False
    ) -> tuple[dict[str, Any], list[str]]:
        if not isinstance(body, dict):
            raise errors.BadRequest("the body of the request was not a JSON object")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        namespace = self._namespace_of_new(rt, meta, namespace)
        requested = str(meta.get("name") or meta.get("generateName") or "")  # what admission calls it
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    "",
                    [
                        {
                            "reason": "FieldValueRequired",
                            "field": "metadata.name",
                            "message": "name or generateName is required",
                        }
                    ],
                )
            meta["name"] = self._generate_name(rt, namespace, meta["generateName"])
        key = self.key(rt, namespace, meta["name"])
        if self.store.get(key) is not None:
            raise errors.already_exists(rt.plural, rt.group, meta["name"])
        for field in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(field, None)
        if rt.has_status:
            # A create through the main resource never sets status (it is the controller's to write);
            # a built-in kind's status is a Go struct, so it reads back as {} (PrepareForCreate).
            obj.pop("status", None)
            if rt.builtin:
                obj["status"] = {}
        obj, warnings = self._admit(rt, obj, None, strict=strict, requested=requested)
        if rt == CRD_TYPE:
            self._accept_crd(obj)
        return self.present(rt, self._put_new(rt, namespace or "", obj)), warnings

    def _namespace_of_new(self, rt: ResourceType, meta: dict[str, Any], namespace: str | None) -> str | None:
        """The namespace a create goes to: it exists and is not terminating (NamespaceLifecycle)."""
        if not rt.namespaced:
            meta.pop("namespace", None)
            return namespace
        body_ns = meta.get("namespace")
        if namespace and body_ns and body_ns != namespace:
            raise errors.BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        namespace = namespace or body_ns or "default"
        ns = self.store.get(("", "namespaces", "", namespace))
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise _namespace_terminating(rt, meta.get("name") or "", namespace)
        meta["namespace"] = namespace
        return namespace

    def _generate_name(self, rt: ResourceType, namespace: str | None, prefix: str) -> str:
        for _ in range(16):
            name = prefix + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
            if self.store.get(self.key(rt, namespace, name)) is None:
                return name
        raise errors.already_exists(rt.plural, rt.group, prefix)

    def _put_new(self, rt: ResourceType, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        meta["generation"] = 1
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        defaulting.on_create(rt.group, rt.plural, obj)  # after the uid: Jobs select their Pods by it
        stored = self.store.put(self.key(rt, namespace, meta["name"]), obj)
        if rt == NAMESPACE_TYPE:
            self._default_service_account(meta["name"])
        return stored

    def _default_service_account(self, namespace: str) -> None:
        """The service-account controller's `default` ServiceAccount in every namespace."""
        key: Key = ("", "serviceaccounts", namespace, "default")
        if self.store.get(key) is None:
            meta = {
                "name": "default",
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": now(),
            }
            self.store.put(key, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})

    # -- updating ------------------------------------------------------------------------------

    def replace(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        strict: bool = False,
    ) -> tuple[dict[str, Any], list[str]]:
        if not isinstance(body, dict):
            raise errors.BadRequest("the body of the request was not a JSON object")
        old = self._existing(rt, namespace, name)
        body_meta = body.get("metadata") or {}
        if body_meta.get("name") not in (None, name):
            raise errors.BadRequest("the name of the object does not match the name on the URL")
        rv = body_meta.get("resourceVersion")
        if not rv and not rt.builtin:
            raise errors.invalid(
                rt.kind,
                rt.group,
                name,
                [
                    {
                        "reason": "FieldValueInvalid",
                        "field": "metadata.resourceVersion",
                        "message": "Invalid value: 0x0: must be specified for an update",
                    }
                ],
            )
        return self._update(rt, old, copy.deepcopy(body), subresource=subresource, strict=strict)

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        patch: Any,
        *,
        subresource: str | None = None,
        strict: bool = False,
    ) -> tuple[dict[str, Any], list[str]]:
        old = self._existing(rt, namespace, name)
        new = patching.apply_patch(content_type, self.present(rt, old), patch, builtin=rt.builtin)
        return self._update(rt, old, new, subresource=subresource, strict=strict)

    def _existing(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.store.get(self.key(rt, namespace, name))
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return obj

    def _update(
        self,
        rt: ResourceType,
        old: dict[str, Any],
        new: dict[str, Any],
        *,
        subresource: str | None,
        strict: bool,
    ) -> tuple[dict[str, Any], list[str]]:
        old_meta = old["metadata"]
        new_meta = new.setdefault("metadata", {})
        if not isinstance(new_meta, dict):
            raise errors.BadRequest("metadata must be an object")
        rv = new_meta.get("resourceVersion")
        if rv and str(rv) != old_meta["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, old_meta["name"])
        new = self._split(rt, old, new, subresource)
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        _no_new_finalizers_while_deleting(rt, old, new)
        new, warnings = self._admit(rt, new, old, strict=strict)
        ignored = ("metadata", "status") if rt.has_status else ("metadata",)
        if _without(new, *ignored, "apiVersion", "kind") != _without(old, *ignored, "apiVersion", "kind"):
            new["metadata"]["generation"] = old_meta.get("generation", 1) + 1
        if new == old:
            return self.present(rt, old), warnings  # a no-op write keeps the resourceVersion, like etcd
        key = self.key(rt, old_meta.get("namespace"), old_meta["name"])
        if (
            new["metadata"].get("deletionTimestamp")
            and not new["metadata"].get("finalizers")
            and key[:2] != ("", "namespaces")  # a namespace goes once empty (_finalize_namespaces)
        ):
            self.store.remove(key)
            self._after_delete()
            return self.present(rt, new), warnings
        if rt == CRD_TYPE and subresource != "status":
            self._accept_crd(new)
        return self.present(rt, self.store.put(key, new)), warnings

    def _split(
        self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any], subresource: str | None
    ) -> dict[str, Any]:
        """What of `new` a write may change: /status only status; the main resource all but status."""
        if subresource == "status" and rt.has_status:
            merged = copy.deepcopy(old)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            return merged
        if subresource:
            raise errors.NotFound(f"the server could not find the requested resource ({subresource})")
        old_meta, new_meta = old["metadata"], new["metadata"]
        for field in _SERVER_OWNED_META:
            if field in old_meta:
                new_meta[field] = old_meta[field]
            else:
                new_meta.pop(field, None)
        if rt.has_status:
            # Writes to the main resource leave status as it was: /status is the only way in.
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        return new

    # -- admission -----------------------------------------------------------------------------

    def _admit(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        *,
        strict: bool,
        requested: str = "",
    ) -> tuple[dict[str, Any], list[str]]:
        obj = timestamps.normalise(obj, builtin=rt.builtin)  # as decoding into Go types spells them
        if rt.schema is None:
            return self.admission.admit(rt, obj, old, requested=requested), []
        admitted, unknown, causes = validation.admit(obj, rt.schema, old)
        if unknown and strict:
            fields = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise errors.BadRequest(f"strict decoding error: {fields}")
        if causes:
            raise errors.invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), causes)
        return self.admission.admit(rt, admitted, old, requested=requested), [
            f'unknown field "{u}"' for u in unknown
        ]

    def _accept_crd(self, crd: dict[str, Any]) -> None:
        names = crd.get("spec", {}).get("names", {})
        group, plural = crd.get("spec", {}).get("group"), names.get("plural")
        if crd["metadata"]["name"] != f"{plural}.{group}":
            raise errors.invalid(
                "CustomResourceDefinition",
                "apiextensions.k8s.io",
                crd["metadata"]["name"],
                [
                    {
                        "reason": "FieldValueInvalid",
                        "field": "metadata.name",
                        "message": f'Invalid value: "{crd["metadata"]["name"]}": '
                        'must be spec.names.plural+"."+spec.group',
                    }
                ],
            )
        stamp = now()
        crd["status"] = {
            "acceptedNames": {k: v for k, v in names.items() if k != "listKind"}
            | {"listKind": names.get("listKind", f"{names.get('kind')}List")},
            "storedVersions": [v["name"] for v in crd["spec"].get("versions", []) if v.get("storage")],
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": stamp,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": stamp,
                },
            ],
        }
        self.registry.register_crd(crd)

    # -- deleting ------------------------------------------------------------------------------

    def delete(
        self, rt: ResourceType, namespace: str | None, name: str, options: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        options = options or {}
        key = self.key(rt, namespace, name)
        obj = self._existing(rt, namespace, name)
        preconditions = options.get("preconditions") or {}
        if preconditions.get("uid") and preconditions["uid"] != obj["metadata"]["uid"]:
            raise errors.conflict(rt.plural, rt.group, name)
        if (
            preconditions.get("resourceVersion")
            and preconditions["resourceVersion"] != obj["metadata"]["resourceVersion"]
        ):
            raise errors.conflict(rt.plural, rt.group, name)
        policy = options.get("propagationPolicy") or (
            "Orphan" if options.get("orphanDependents") else "Background"
        )
        grace = _pod_grace(rt, obj, options)
        if grace:  # graceful: the Pod's kubelet stops it, then deletes it with grace 0
            return self.present(rt, self._mark_terminating(key, grace))
        return self.present(rt, self._delete_key(key, policy))

    def _mark_terminating(self, key: Key, grace: int) -> dict[str, Any]:
        obj = self.store.objects[key]
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and meta.get("deletionGracePeriodSeconds", grace) <= grace:
            return obj  # already terminating at least this soon
        marked = copy.deepcopy(obj)
        due = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=grace)
        marked["metadata"]["deletionTimestamp"] = due.strftime("%Y-%m-%dT%H:%M:%SZ")
        marked["metadata"]["deletionGracePeriodSeconds"] = grace
        return self.store.put(key, marked)

    def _delete_key(self, key: Key, policy: str = "Background") -> dict[str, Any]:
        obj = self.store.objects[key]
        meta = obj["metadata"]
        if key[:2] == ("", "namespaces"):
            return self._delete_namespace(key)
        if policy == "Orphan":
            self._orphan_dependents(meta["uid"])
        finalizers = list(meta.get("finalizers") or [])
        dependents = self._dependents(meta["uid"]) if policy == "Foreground" else []  # one scan
        if dependents:
            finalizers = (
                [*finalizers, "foregroundDeletion"] if "foregroundDeletion" not in finalizers else finalizers
            )
        if finalizers:
            if meta.get("deletionTimestamp") and finalizers == meta.get("finalizers"):
                return obj  # already terminating: a second delete changes nothing
            marked = copy.deepcopy(obj)
            marked["metadata"]["finalizers"] = finalizers
            if not meta.get("deletionTimestamp"):
                marked["metadata"]["deletionTimestamp"] = now()
                marked["metadata"]["deletionGracePeriodSeconds"] = 0
                marked["metadata"]["generation"] = meta.get("generation", 1) + 1
            stored = self.store.put(key, marked)
            if policy == "Foreground":
                for dep_key in dependents:
                    self._delete_key(dep_key, "Foreground")
                self._after_delete()
            return stored
        removed = self.store.remove(key)
        self._after_delete()
        return removed

    def _delete_namespace(self, key: Key) -> dict[str, Any]:
        """Terminating until the namespace controller has deleted everything in it (finalizers too)."""
        obj = self.store.objects[key]
        if not obj["metadata"].get("deletionTimestamp"):
            marked = copy.deepcopy(obj)
            marked["metadata"]["deletionTimestamp"] = now()
            marked["metadata"]["deletionGracePeriodSeconds"] = 0
            marked["status"] = {"phase": "Terminating"}
            obj = self.store.put(key, marked)
        for content in [k for k in self.store.objects if k[2] == key[3] and k[:2] != ("", "namespaces")]:
            if content in self.store.objects and not self.store.objects[content]["metadata"].get(
                "deletionTimestamp"
            ):
                self._delete_key(content, "Background")
        self._after_delete()
        return self.store.objects.get(key, obj)

    def _finalize_namespaces(self) -> bool:
        """A terminating namespace with nothing left in it goes (the `kubernetes` finalizer's work)."""
        changed = False
        occupied = {k[2] for k in self.store.objects if k[2]}
        for key, ns in list(self.store.objects.items()):
            if key[:2] != ("", "namespaces") or not ns["metadata"].get("deletionTimestamp"):
                continue
            if key[3] not in occupied and not ns["metadata"].get("finalizers"):
                self.store.remove(key)
                changed = True
        return changed

    def collect_garbage(self, clock: float) -> int:
        """One pass of the garbage collector: dependents of vanished owners go (after `gc_delay`)."""
        delay = self.gc_delay or 0.0
        orphaned = {
            key
            for key, obj in self.store.objects.items()
            if (refs := obj["metadata"].get("ownerReferences"))
            and not obj["metadata"].get("deletionTimestamp")
            and all(r.get("uid") not in self.store.by_uid for r in refs)
        }
        self._orphaned_since = {k: self._orphaned_since.get(k, clock) for k in orphaned}
        collected = 0
        for key, since in list(self._orphaned_since.items()):
            if clock - since >= delay and key in self.store.objects:
                self._orphaned_since.pop(key)
                self._delete_key(key, "Background")
                collected += 1
        if collected or self._finalize_namespaces():
            self._after_delete()
        return collected

    def _dependents(self, uid: str) -> list[Key]:
        return [
            k
            for k, o in self.store.objects.items()
            if any(ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences") or [])
        ]

    def _orphan_dependents(self, uid: str) -> None:
        for key in self._dependents(uid):
            obj = copy.deepcopy(self.store.objects[key])
            refs = [r for r in obj["metadata"]["ownerReferences"] if r.get("uid") != uid]
            if refs:
                obj["metadata"]["ownerReferences"] = refs
            else:
                obj["metadata"].pop("ownerReferences")
            self.store.put(key, obj)

    def _after_delete(self) -> None:
        """Garbage collection to a fixpoint: orphans go, finished foreground owners go, CRDs' data go."""
        changed = True
        while changed:
            changed = False
            for key, obj in list(self.store.objects.items()):
                if key not in self.store.objects:
                    continue
                meta = obj["metadata"]
                refs = meta.get("ownerReferences") or []
                if (
                    refs
                    and self.gc_delay is None  # else the background collector's work, later
                    and not meta.get("deletionTimestamp")
                    and all(r.get("uid") not in self.store.by_uid for r in refs)
                ):
                    self._delete_key(key, "Background")
                    changed = True
                elif "foregroundDeletion" in (meta.get("finalizers") or []) and not self._dependents(
                    meta["uid"]
                ):
                    released = copy.deepcopy(obj)
                    released["metadata"]["finalizers"] = [
                        f for f in meta["finalizers"] if f != "foregroundDeletion"
                    ]
                    if released["metadata"]["finalizers"]:
                        self.store.put(key, released)
                    else:
                        self.store.remove(key)
                    changed = True
            changed = self._collect_namespaces_and_crds() or changed
            changed = self._finalize_namespaces() or changed

    def _collect_namespaces_and_crds(self) -> bool:
        changed = False
        live_ns = {k[3] for k in self.store.objects if k[:2] == ("", "namespaces")}
        for key in [k for k in self.store.objects if k[2] and k[2] not in live_ns]:
            if key in self.store.objects and not self.store.objects[key]["metadata"].get("deletionTimestamp"):
                self._delete_key(key)
                changed = True
        live_crds = {
            (o["spec"]["group"], o["spec"]["names"]["plural"])
            for k, o in self.store.objects.items()
            if k[:2] == ("apiextensions.k8s.io", CRD_TYPE.plural)
        }
        for rt in [
            rt for rt in self.registry.all() if not rt.builtin and (rt.group, rt.plural) not in live_crds
        ]:
            for key in [k for k in self.store.objects if k[:2] == (rt.group, rt.plural)]:
                self.store.remove(key)
            self.registry.unregister_crd({"spec": {"group": rt.group, "names": {"plural": rt.plural}}})
            changed = True
        return changed


def _namespace_terminating(rt: ResourceType, name: str, namespace: str) -> errors.ApiError:
    """The NamespaceLifecycle admission plugin: no new objects in a namespace being deleted."""
    message = f"unable to create new content in namespace {namespace} because it is being terminated"
    return Forbidden(
        f'{errors.qualified(rt.plural, rt.group)} "{name}" is forbidden: {message}',
        details={
            "name": name,
            "group": rt.group,
            "kind": rt.plural,
            "causes": [{"reason": "NamespaceTerminating", "message": message, "field": "metadata.namespace"}],
        },
    )


def _no_new_finalizers_while_deleting(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    """ValidateObjectMetaUpdate: an object being deleted may lose finalizers, never gain one."""
    if not old["metadata"].get("deletionTimestamp"):
        return
    before = set(old["metadata"].get("finalizers") or [])
    added = [f for f in new["metadata"].get("finalizers") or [] if f not in before]
    if added:
        quoted = ", ".join(f'"{f}"' for f in added)
        raise errors.invalid(
            rt.kind,
            rt.group,
            old["metadata"]["name"],
            [
                {
                    "reason": "FieldValueForbidden",
                    "field": "metadata.finalizers",
                    "message": "Forbidden: no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers []string{{{quoted}}}",
                }
            ],
        )
