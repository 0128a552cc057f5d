"""A chunked scene's status: each chunk's layout, state, times and replay decisions (engine/stages.py)."""

from __future__ import annotations

from scenefarm_contract.renderer import TerminationMessage
from scenefarm_operator.engine import stages
from scenefarm_operator.engine.chunking import Chunk, ChunkDecision
from scenefarm_operator.engine.observed import JobOutcome


def test_a_chunks_status_shows_its_times_and_which_replayed_plays_were_skipped() -> None:
    decision = ChunkDecision(True, "2 chunks", 120, 30, (Chunk(0, 0, 60), Chunk(1, 60, 120)))
    job = {
        "metadata": {"name": "r-s00-a1-chunks", "labels": {"scenefarm.dev/role": "chunks"}, "annotations": {}}
    }
    stages._annotate(job, decision, None)  # what every Job made from a plan carries
    message = TerminationMessage(0, renderSeconds=9.5, replaySeconds=0.2, replayFastForwarded=3,
                                 replayStepped=1, replayStepReason="TracedPath has updaters")  # fmt: skip
    pod = {
        "metadata": {"annotations": {stages.COMPLETION_INDEX: "1"}},
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [{"state": {"terminated": {"message": message.to_json()}}}],
        },
    }

    entry = stages.status_of(job, JobOutcome("Running"), [pod])

    chunk = entry["chunking"]["chunks"][1]
    assert (chunk["phase"], chunk["renderSeconds"], chunk["replaySeconds"]) == ("Succeeded", 9.5, 0.2)
    assert (chunk["replayFastForwarded"], chunk["replayStepped"]) == (3, 1)
    assert chunk["replayStepReason"] == "TracedPath has updaters"
    assert "replayStepped" not in entry["chunking"]["chunks"][0]  # its Pod has not reported
