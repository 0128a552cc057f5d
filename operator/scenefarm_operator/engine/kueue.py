"""Kueue's reason for holding a Job, from its Workload (pure).

With a queue name, Kueue creates each Job suspended and admits it when quota allows; its reason
lives on the Workload it made for the Job (`kueue.x-k8s.io/v1beta1`, owned by the Job): the
QuotaReserved / Admitted conditions say "couldn't assign flavors ... insufficient unused quota
...", "Waiting for resources", or that the ClusterQueue is inactive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scenefarm_operator.engine.manifests import naming

Obj = Mapping[str, Any]
WORKLOAD_GROUP, WORKLOAD_VERSION, WORKLOAD_PLURAL = "kueue.x-k8s.io", "v1beta1", "workloads"


def is_kueue_managed(job: Obj) -> bool:
    return bool((job["metadata"].get("labels") or {}).get(naming.KUEUE_QUEUE_LABEL))


def workload_of(job: Obj, workloads: Iterable[Obj]) -> Obj | None:
    uid = job["metadata"].get("uid")
    for workload in workloads:
        refs = workload.get("metadata", {}).get("ownerReferences") or []
        if any(ref.get("uid") == uid and ref.get("kind") == "Job" for ref in refs):
            return workload
    return None


def held_reason(workload: Obj | None) -> str:
    """Kueue's own words for why the Workload is not admitted; "" when admitted or unknown."""
    if workload is None:
        return ""
    conditions = {c.get("type"): c for c in (workload.get("status") or {}).get("conditions") or []}
    if (conditions.get("Admitted") or {}).get("status") == "True":
        return ""
    for kind in ("QuotaReserved", "Admitted", "PodsReady"):
        condition = conditions.get(kind) or {}
        if condition.get("status") == "False" and condition.get("message"):
            return str(condition["message"])
    return ""


def held_reasons(jobs: Iterable[Obj], workloads: Iterable[Obj]) -> dict[str, str]:
    """Job name -> Kueue's reason for holding it, for the Jobs Kueue manages."""
    workloads = list(workloads)
    managed = [job for job in jobs if is_kueue_managed(job)]
    return {job["metadata"]["name"]: held_reason(workload_of(job, workloads)) for job in managed}


def queued_message(job: Obj, reason: str = "") -> str:
    """What a scene's status says while Kueue (or another controller) holds its Job suspended."""
    queue = (job["metadata"].get("labels") or {}).get(naming.KUEUE_QUEUE_LABEL, "")
    where = f"Kueue queue {queue!r}" if queue else "its queue (suspended by another controller)"
    return f"held by {where} until it is admitted" + (f": {reason}" if reason else "")
