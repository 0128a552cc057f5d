"""The Job runner's configuration: one frozen object, built by the caller."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def _cores() -> int:
    return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class JobRunnerConfig:
    """How the runner behaves; the defaults suit `make demo` and the integration tests."""

    state_dir: Path
    # Instant mode (control-plane tests and benchmarks): Pods end at once without running anything;
    # this function gives the (exit code, termination message) a real container would have left.
    # The runner knows no program's command line; the caller that knows the renderer hands it in.
    # It may answer None for a Pod that should run for real after all (a `kubectl run`, say).
    instant: Callable[[Mapping[str, Any]], tuple[int, str] | None] | None = None
    # A cluster-wide cap on running local processes; further Pods wait as Pending, the way a
    # real cluster queues Pods that do not fit on a node.
    max_local_processes: int = dataclasses.field(default_factory=_cores)
    # claimName -> local directory; other claims get `<state_dir>/volumes/<ns>/<claimName>/`.
    volume_paths: Mapping[str, Path] = dataclasses.field(default_factory=dict)
    # Memory sampling, deadline timers and kill checks run at this period (seconds).
    poll_interval: float = 0.1
    # Every Job is reconciled at least this often, whatever the watches say (seconds).
    resync_interval: float = 5.0

    def claim_path(self, namespace: str, claim: str) -> Path:
        if claim in self.volume_paths:
            return Path(self.volume_paths[claim])
        return self.state_dir / "volumes" / namespace / claim

    def pod_dir(self, namespace: str, pod: str) -> Path:
        return self.state_dir / "pods" / namespace / pod
