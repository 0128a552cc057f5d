"""Every API request, kept in memory (bounded) and optionally appended to a JSON-lines file.

The control-plane benchmark counts writes per client from it; RBAC checks read verbs from it.
"""

from __future__ import annotations

import collections
import dataclasses
import json
from pathlib import Path
from typing import Any, TextIO

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    time: float
    method: str
    path: str
    query: str
    verb: str  # get list watch create update patch delete deletecollection, or "" for non-resource
    group: str
    version: str
    resource: str
    namespace: str
    name: str
    subresource: str
    status: int
    identity: str
    user_agent: str

    @property
    def is_write(self) -> bool:
        return self.verb in WRITE_VERBS

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class RequestLog:
    def __init__(self, path: Path | None = None, maxlen: int = 100_000) -> None:
        self.records: collections.deque[RequestRecord] = collections.deque(maxlen=maxlen)
        self.path = path
        self._file: TextIO | None = path.open("a", encoding="utf-8") if path is not None else None

    def append(self, record: RequestRecord) -> None:
        self.records.append(record)
        if self._file is not None:
            self._file.write(json.dumps(record.to_json()) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self.records))

    def __len__(self) -> int:
        return len(self.records)

    def writes_by_identity(self) -> dict[str, int]:
        counts: dict[str, int] = collections.Counter(r.identity for r in self.records if r.is_write)
        return dict(counts)

    def matching(self, **criteria: Any) -> list[RequestRecord]:
        return [r for r in self.records if all(getattr(r, k) == v for k, v in criteria.items())]
