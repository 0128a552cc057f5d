"""kopf's last-handled configuration, kept small: the spec is stored as its digest.

kopf remembers what it last handled in an annotation (`kopf.zalando.org/last-handled-configuration`)
to tell real changes from its own writes. By default that is the whole spec: a VideoRequest with
inline code can exceed the API server's 256 KiB budget for all annotations, and then every patch
of the object fails with 422. Only on.delete (the Appwrite clean-up) is change-detecting here, and
it needs no field-level diff, so a digest of the spec tells kopf everything it uses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import kopf


def spec_digest(spec: Any) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class DigestDiffBaseStorage(kopf.AnnotationsDiffBaseStorage):
    """kopf's annotation storage, with `spec` replaced by `{"sha256": ...}` (a few dozen bytes)."""

    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> kopf.BodyEssence:
        essence = super().build(body=body, extra_fields=extra_fields)
        if "spec" in essence:
            essence["spec"] = {"sha256": spec_digest(essence["spec"])}  # type: ignore[index]
        return essence
