"""JSON log lines (SCENEFARM_LOG_FORMAT=json): one object per line, with the VideoRequest it is about.

kopf tags the records of its per-object loggers with `k8s_ref` (namespace, name, uid); this
formatter adds the request's current phase from the telemetry, so a log search for one request
or one phase needs no parsing of free text.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Callable


class JsonLines(logging.Formatter):
    def __init__(self, phase_of: Callable[[str], str | None]) -> None:
        super().__init__()
        self.phase_of = phase_of

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, dict):
            for key in ("namespace", "name", "uid"):
                if ref.get(key):
                    line[key] = ref[key]
            phase = self.phase_of(str(ref.get("uid") or ""))
            if phase:
                line["phase"] = phase
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def install(phase_of: Callable[[str], str | None]) -> None:
    """Put the JSON formatter on every handler of the root logger (kopf's stream handler)."""
    root = logging.getLogger()
    handlers = root.handlers or [logging.StreamHandler()]
    if not root.handlers:
        root.addHandler(handlers[0])
    for handler in handlers:
        handler.setFormatter(JsonLines(phase_of))
