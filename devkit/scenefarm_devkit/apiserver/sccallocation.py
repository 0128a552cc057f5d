"""OpenShift's namespace-security-allocation-controller (openshift/cluster-policy-controller
pkg/security/controller), for a dev cluster that plays OpenShift (`DevCluster(openshift=True)`).

Every namespace without `openshift.io/sa.scc.uid-range` gets the next free block of the cluster's
UID range (1000000000-1999999999 in blocks of 10000, OpenShift's default): the block as its
`uid-range` and `supplemental-groups` annotations, and the SELinux MCS level of the block's offset
(`s0:/2`, 5 labels per project) as `openshift.io/sa.scc.mcs` unless it has one. The write is a
server-side apply by the field manager `cluster-policy-controller`, after the namespace was
created, as the real controller reacts to its watch (the SCC admission waits for it, scc.py).
Blocks in use are read from the namespaces themselves, so a deleted namespace's block is free
again at once (OpenShift's controller frees it at its next repair, at start and every 8 hours).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from scenefarm_devkit.apiserver import apply, errors
from scenefarm_devkit.apiserver.resources import NAMESPACE_TYPE
from scenefarm_devkit.apiserver.scc import MCS, SUPPLEMENTAL_GROUPS, UID_RANGE, parse_block

if TYPE_CHECKING:
    from scenefarm_devkit.apiserver.operations import Api

UID_START, UID_END, BLOCK_SIZE = 1_000_000_000, 1_999_999_999, 10_000
MCS_PREFIX, MCS_CATEGORIES, MCS_LABEL_SIZE, MCS_LABELS_PER_PROJECT = "s0:", 1024, 2, 5
FIELD_MANAGER = "cluster-policy-controller"
logger = logging.getLogger(__name__)


def block(index: int) -> str:
    """The index-th block of the UID range, as the annotation spells it (`<start>/<size>`)."""
    return f"{UID_START + index * BLOCK_SIZE}/{BLOCK_SIZE}"


def mcs_label(index: int) -> str:
    """DefaultMCSAllocation: the label at offset index * 5 of `s0:/2` (co-lex unrank of 2 of 1024
    categories, highest first), e.g. block 68 (1000680000/10000) is `s0:c26,c15`."""
    offset, n, categories = index * MCS_LABELS_PER_PROJECT, MCS_CATEGORIES, []
    for k in range(MCS_LABEL_SIZE, 0, -1):
        while math.comb(n, k) > offset:
            n -= 1
        categories.append(n)
        offset -= math.comb(n, k)
    return MCS_PREFIX + ",".join(f"c{c}" for c in sorted(categories, reverse=True))


def free_block(namespaces: Iterable[Mapping[str, Any]]) -> int:
    """The lowest block index no namespace's uid-range holds (allocateNextContiguousBit)."""
    used = set()
    for namespace in namespaces:
        value = ((namespace.get("metadata") or {}).get("annotations") or {}).get(UID_RANGE)
        try:
            start, _ = parse_block(value) if value else (-1, 0)
        except ValueError:
            continue
        if start >= UID_START and (start - UID_START) % BLOCK_SIZE == 0:
            used.add((start - UID_START) // BLOCK_SIZE)
    index = next(i for i in range(len(used) + 1) if i not in used)
    if UID_START + (index + 1) * BLOCK_SIZE - 1 > UID_END:
        raise ValueError("uid range exceeded")
    return index


def allocate(api: Api, name: str) -> bool:
    """Annotate namespace `name` if it has no uid range yet; True when it did."""
    namespace = api.store.get(("", "namespaces", "", name))
    if namespace is None:
        return False
    meta = namespace["metadata"]
    annotations = meta.get("annotations") or {}
    if UID_RANGE in annotations:
        return False
    index = free_block(api.store.scan("", "namespaces"))
    wanted = {
        UID_RANGE: block(index),
        SUPPLEMENTAL_GROUPS: block(index),
        MCS: annotations.get(MCS) or mcs_label(index),
    }
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "resourceVersion": meta["resourceVersion"], "annotations": wanted},
    }
    apply.server_side_apply(
        api, NAMESPACE_TYPE, "", name, json.dumps(body).encode(), manager=FIELD_MANAGER, force=False,
        subresource="", strict=False,
    )  # fmt: skip
    return True


async def run(api: Api) -> None:
    """Allocate for the namespaces there are, then for each one created or changed (a watch)."""
    store = api.store
    _, feed = store.subscribe("", "namespaces", None)
    try:
        for namespace in list(store.scan("", "namespaces")):
            _allocate(api, namespace["metadata"]["name"])
        while (event := await feed.queue.get()) is not None:
            if event.type != "DELETED":
                _allocate(api, event.obj["metadata"]["name"])
    finally:
        feed.close()


def _allocate(api: Api, name: str) -> None:
    try:
        allocate(api, name)
    except (errors.ApiError, ValueError) as exc:  # a conflict or a full range: as the controller, log
        logger.warning("cannot allocate SCC ranges for namespace %s: %s", name, exc)
