"""The phase vocabulary: of a VideoRequest, of a scene, and of one Job. Every module names
phases through these constants (and every set of them is defined here); the CRD's enums list
the same words. tests/unit/test_vocabulary.py fails when a phase word is written out anywhere
else in the product. Kubernetes' own Pod phases and Job condition types, spelled alike, are
another vocabulary: `scenefarm_contract.k8s`.

Request:  Pending -> Planning -> Rendering <-> Suspended -> Combining -> Succeeded
                                      \\-> Failed        \\-> Cancelled (final: the API refuses undoing it)
Scene:    Pending | Queued | Running | Healing | Retrying | Suspended | Succeeded | Failed | Stopped
Job:      Pending | Running | Suspended | Succeeded | Failed
"""

from __future__ import annotations

from typing import Final

# A VideoRequest.
PENDING: Final = "Pending"
PLANNING: Final = "Planning"
RENDERING: Final = "Rendering"
SUSPENDED: Final = "Suspended"
COMBINING: Final = "Combining"
SUCCEEDED: Final = "Succeeded"
FAILED: Final = "Failed"
CANCELLED: Final = "Cancelled"
REQUEST_PHASES: Final = (PENDING, PLANNING, RENDERING, COMBINING, SUCCEEDED, FAILED, SUSPENDED, CANCELLED)
TERMINAL: Final = frozenset({SUCCEEDED, FAILED, CANCELLED})  # a finished request keeps its status
IN_PROGRESS: Final = frozenset({PENDING, PLANNING, RENDERING, COMBINING})

# A scene (besides the Job phases below).
QUEUED: Final = "Queued"  # waiting for a slot (parallelism or the cluster-wide cap)
HEALING: Final = "Healing"  # the planner is rewriting its failed code
RETRYING: Final = "Retrying"  # its next attempt is due, or waits out a backoff
STOPPED: Final = "Stopped"  # the request ended (failed, cancelled) before this scene finished
SCENE_TERMINAL: Final = frozenset({SUCCEEDED, FAILED, STOPPED})  # a scene that will not run again

# One Job (a scene attempt or the combine), as status.outcome() reads it.
RUNNING: Final = "Running"
FINISHED: Final = frozenset({SUCCEEDED, FAILED})
ACTIVE: Final = frozenset({PENDING, RUNNING})
