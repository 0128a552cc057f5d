"""Kubernetes' own words that scenefarm reads, in one place.

Some of them are spelled like scenefarm's phases (`scenefarm_contract.phases`) but are another
vocabulary: a Pod's `status.phase` and the types of a Job's `status.conditions`. Code that reads
Pods or Job conditions names them through these constants, never through `phases`, so a change to
scenefarm's phase words cannot change what is read from Kubernetes (tests/unit/test_vocabulary.py
allows the words here and nowhere else).
"""

from __future__ import annotations

from typing import Final

# A Pod's status.phase.
POD_PENDING: Final = "Pending"
POD_RUNNING: Final = "Running"
POD_SUCCEEDED: Final = "Succeeded"
POD_FAILED: Final = "Failed"
POD_ENDED: Final = frozenset({POD_SUCCEEDED, POD_FAILED})

# The types of a Job's status.conditions that end it.
JOB_COMPLETE: Final = "Complete"
JOB_FAILED: Final = "Failed"
JOB_ENDED: Final = frozenset({JOB_COMPLETE, JOB_FAILED})
