"""The dev cluster's Job runner: the Job controller and a kubelet stand-in, as an API client.

What belongs here: turning batch/v1 Jobs into Pods the way the real Job controller does
(parallelism, completions, suspend, backoffLimit, activeDeadlineSeconds, podFailurePolicy,
ttlSecondsAfterFinished, status conditions, Indexed Jobs with backoffLimitPerIndex) and running
each Pod's container as a local process (volumes materialised under a per-Pod directory, paths
rewritten, memory limits enforced, termination messages recorded).  Pure decisions live in
`failurepolicy`, `jobsync`, `conditions`, `indexed`, `intervals`, `podmanifest`, `podstatus`,
and `rewriting`; `volumes`, `process`, `kubelet`,
`informer` and `runner` do the effects.  It talks to the API server over HTTP only.
"""

from scenefarm_devkit.jobrunner.config import JobRunnerConfig
from scenefarm_devkit.jobrunner.runner import JobRunner, run_job_runner

__all__ = ["JobRunner", "JobRunnerConfig", "run_job_runner"]
