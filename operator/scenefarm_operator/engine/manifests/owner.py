"""A child owned by its VideoRequest: what `kopf.adopt` does, without kopf in the engine.

The owner reference (controller, blocking the owner's foreground deletion) lets the garbage
collector delete the child with its request; the child lives in the owner's namespace and carries
the owner's labels (its own win).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    meta = owner.get("metadata") or {}
    ref = {
        "controller": True,
        "blockOwnerDeletion": True,
        "apiVersion": owner.get("apiVersion"),
        "kind": owner.get("kind"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
    }
    return {key: value for key, value in ref.items() if value is not None}


def adopt(child: dict[str, Any], owner: Mapping[str, Any]) -> None:
    """Make `owner` the controller of `child` (in place), as `kopf.adopt(child, owner=owner)` does."""
    owner_meta = owner.get("metadata") or {}
    meta = child.setdefault("metadata", {})
    ref = owner_reference(owner)
    refs = meta.setdefault("ownerReferences", [])
    if not any(r.get("uid") == ref.get("uid") for r in refs):
        refs.append(ref)
    if not {"name", "generateName"} & set(meta) and owner_meta.get("name"):
        meta["generateName"] = f"{owner_meta['name']}-"
    if owner_meta.get("namespace") is not None:
        meta.setdefault("namespace", owner_meta["namespace"])
    labels = meta.setdefault("labels", {})
    for key, value in (owner_meta.get("labels") or {}).items():
        labels.setdefault(key, value)


def owned_by(child: Mapping[str, Any], uid: str) -> bool:
    """`child` belongs to the owner with this uid (not to a deleted namesake whose children the
    garbage collector has not removed yet: same name, same labels, another uid)."""
    refs = (child.get("metadata") or {}).get("ownerReferences") or ()
    return bool(uid) and any(ref.get("uid") == uid for ref in refs)
