"""Kubernetes resource quantities (`128Mi`, `1G`, `500m`, `1e9`) as numbers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

_SUFFIXES = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}  # fmt: skip
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def parse_quantity(text: str | int | float) -> Decimal:
    """The value of a quantity; ValueError for anything the API server would reject."""
    match = _QUANTITY.match(str(text).strip())
    if match is None:
        raise ValueError(f"not a quantity: {text!r}")
    number, suffix = match.groups()
    return Decimal(number) * Decimal(str(_SUFFIXES[suffix or ""]))


def memory_limit_bytes(container: Mapping[str, Any]) -> int | None:
    """`resources.limits.memory` in bytes, or None when unlimited."""
    memory = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    return None if memory is None else int(parse_quantity(memory))
