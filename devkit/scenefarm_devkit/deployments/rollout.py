"""Pure decisions of the Deployment and ReplicaSet controllers (pkg/controller/deployment, replicaset).

A Deployment owns one ReplicaSet per Pod template (named `<deployment>-<pod-template-hash>`); a
rollout scales the new one up and the old ones down within maxSurge/maxUnavailable (RollingUpdate)
or all old ones to zero first (Recreate). Status fields are those `kubectl rollout status` reads.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Obj = dict[str, Any]
HASH_LABEL = "pod-template-hash"
REPLICA_FAILURE = "ReplicaFailure"
TIMED_OUT = "ProgressDeadlineExceeded"


def template_hash(template: Mapping[str, Any]) -> str:
    """A stable, label-safe hash of the Pod template (the real controller uses FNV; any stable one works)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    return "".join("bcdfghjklmnpqrstvwxz2456789"[int(c, 16)] for c in digest[:10])


def owned_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    uid = owner["metadata"].get("uid")
    return any(
        r.get("uid") == uid and r.get("controller") for r in obj["metadata"].get("ownerReferences") or []
    )


def controller_ref(owner: Mapping[str, Any]) -> dict[str, Any]:
    meta = owner["metadata"]
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def replica_set_for(deployment: Mapping[str, Any]) -> Obj:
    """The ReplicaSet of the Deployment's current template, at 0 replicas (the rollout scales it)."""
    spec = deployment["spec"]
    template = copy.deepcopy(spec["template"])
    pod_hash = template_hash(spec["template"])
    labels = dict((template.get("metadata") or {}).get("labels") or {}) | {HASH_LABEL: pod_hash}
    template.setdefault("metadata", {})["labels"] = labels
    selector = copy.deepcopy(spec["selector"])
    selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
    meta = deployment["metadata"]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}",
            "namespace": meta["namespace"],
            "labels": labels,
            "ownerReferences": [controller_ref(deployment)],
        },
        "spec": {"replicas": 0, "selector": selector, "template": template},
    }


def _resolve(value: Any, desired: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        share = desired * float(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value)


def surge_and_unavailable(deployment: Mapping[str, Any]) -> tuple[int, int]:
    desired = int(deployment["spec"].get("replicas", 1))
    rolling = (deployment["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    surge = _resolve(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = _resolve(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # as the real controller: a rollout must be able to make progress
    return surge, unavailable


def scale(
    deployment: Mapping[str, Any],
    new: Obj,
    olds: Sequence[Obj],
    ready: Mapping[str, int],
    pods: Mapping[str, int],
) -> dict[str, int]:
    """The replicas each ReplicaSet (by name) should have now. `ready` and `pods` count each set's
    ready and existing (incl. terminating) Pods."""
    desired = int(deployment["spec"].get("replicas", 1))
    want = {rs["metadata"]["name"]: int(rs["spec"].get("replicas", 0)) for rs in [new, *olds]}
    name = new["metadata"]["name"]
    if (deployment["spec"].get("strategy") or {}).get("type") == "Recreate":
        for old in olds:
            want[old["metadata"]["name"]] = 0
        old_pods = sum(pods.get(old["metadata"]["name"], 0) for old in olds)
        want[name] = desired if old_pods == 0 else 0
        return want
    surge, unavailable = surge_and_unavailable(deployment)
    total = sum(want.values())
    if want[name] > desired:
        want[name] = desired
    elif want[name] < desired:
        want[name] = min(desired, want[name] + max(0, desired + surge - total))
    removable = sum(ready.values()) - (desired - unavailable)
    for old in olds:  # oldest first, as the caller sorts them
        old_name = old["metadata"]["name"]
        unhealthy = max(0, want[old_name] - ready.get(old_name, 0))
        drop = min(want[old_name], unhealthy + max(0, removable))
        removable -= max(0, drop - unhealthy)
        want[old_name] -= drop
    return want


def replica_set_status(
    rs: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], failure: str | None = None, stamp: str = ""
) -> Obj:
    """`failure`: why this pass could not create a Pod (the API server's message), or None. The
    ReplicaFailure condition is set once (its first message kept) and removed after a clean pass."""
    pods = list(pods)
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    ready = sum(1 for p in live if is_ready(p))
    before = [c for c in (rs.get("status") or {}).get("conditions") or [] if c.get("type") == REPLICA_FAILURE]
    condition = {"type": REPLICA_FAILURE, "status": "True", "reason": "FailedCreate", "message": failure}
    conditions = (before or [condition | {"lastTransitionTime": stamp}]) if failure is not None else []
    return {
        "replicas": len(live),
        "fullyLabeledReplicas": len(live),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "terminatingReplicas": sum(1 for p in pods if p["metadata"].get("deletionTimestamp")),
        "observedGeneration": rs["metadata"].get("generation", 1),
        "conditions": conditions or None,  # None: a merge patch removes it (omitted when empty)
    }


def deployment_status(
    deployment: Mapping[str, Any], new: Mapping[str, Any], all_sets: Sequence[Mapping[str, Any]], stamp: str
) -> Obj:
    desired = int(deployment["spec"].get("replicas", 1))
    statuses = [rs.get("status") or {} for rs in all_sets]
    new_status = new.get("status") or {}
    replicas = sum(int(s.get("replicas", 0)) for s in statuses)
    available = sum(int(s.get("availableReplicas", 0)) for s in statuses)
    updated = int(new_status.get("replicas", 0))
    _, max_unavailable = surge_and_unavailable(deployment)
    complete = updated == desired and replicas == updated and available >= updated
    old = {c["type"]: c for c in (deployment.get("status") or {}).get("conditions") or []}
    conditions = [
        _condition(old, "Available", available >= desired - max_unavailable, "MinimumReplicasAvailable",
                   "MinimumReplicasUnavailable", stamp),
        _condition(old, "Progressing", True, "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                   "", stamp, f'ReplicaSet "{new["metadata"]["name"]}" '
                   + ("has successfully progressed." if complete else "is progressing.")),
    ]  # fmt: skip
    failed = next(  # getReplicaFailures: the new ReplicaSet's first, then the old ones'
        (c for rs in [new, *all_sets] for c in (rs.get("status") or {}).get("conditions") or []
         if c.get("type") == REPLICA_FAILURE),
        None,
    )  # fmt: skip
    if failed is not None:
        before = old.get(REPLICA_FAILURE) or {}
        conditions.append({
            "type": REPLICA_FAILURE, "status": failed["status"], "reason": failed.get("reason", ""),
            "message": failed.get("message", ""), "lastUpdateTime": stamp,
            "lastTransitionTime": before.get("lastTransitionTime", stamp),
        })  # fmt: skip
    return {
        "observedGeneration": deployment["metadata"].get("generation", 1),
        "replicas": replicas,
        "updatedReplicas": updated,
        "readyReplicas": sum(int(s.get("readyReplicas", 0)) for s in statuses),
        "availableReplicas": available,
        "unavailableReplicas": max(0, desired - available),
        "terminatingReplicas": sum(int(s.get("terminatingReplicas", 0)) for s in statuses),
        "conditions": conditions,
    }


def _condition(  # noqa: PLR0917 - one condition's fields, in their order
    old: Mapping[str, Any], kind: str, ok: bool, reason: str, bad_reason: str, stamp: str, message: str = ""
) -> Obj:
    status = "True" if ok else "False"
    before = old.get(kind) or {}
    moved = before.get("status") != status
    return {
        "type": kind,
        "status": status,
        "reason": reason if ok else bad_reason,
        "message": message
        or (
            "Deployment has minimum availability." if ok else "Deployment does not have minimum availability."
        ),
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp if moved else before.get("lastTransitionTime", stamp),
    }


def is_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist)."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if (op == "In" and labels.get(key) not in values) or (
            op == "NotIn" and present and labels[key] in values
        ):
            return False
        if (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


def to_remove(pods: Sequence[Mapping[str, Any]], count: int) -> list[Mapping[str, Any]]:
    """Which Pods a ReplicaSet scales down first: not ready before ready, newest before oldest."""
    ordered = sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True)
    ordered.sort(key=is_ready)
    return ordered[:count]
