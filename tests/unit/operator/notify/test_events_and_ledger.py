import json

from scenefarm_operator.observe.notify import events, ledger, signing

BODY = {
    "metadata": {"namespace": "videos", "name": "newton", "uid": "u-1", "annotations": {}},
    "spec": {"topic": "t", "notify": {"target": "team"}},
    "status": {
        "phase": "Succeeded",
        "finishedAt": "2026-11-28T10:00:00Z",
        "scenesTotal": 2,
        "scenesSucceeded": 2,
        "output": {"uri": "volume:/videos/newton/video.mp4"},
        "scenes": [
            {
                "index": 0,
                "name": "a",
                "phase": "Succeeded",
                "attempt": 1,
                "finishedAt": "2026-11-28T09:59:00Z",
            },
            {"index": 1, "name": "b", "phase": "Running", "attempt": 1},
        ],
    },
}


def test_a_finished_request_calls_for_one_cloudevent_of_its_outcome() -> None:
    (event,) = events.due(BODY)
    envelope = json.loads(event.body())
    assert envelope["specversion"] == "1.0"
    assert envelope["type"] == "dev.scenefarm.videorequest.succeeded"
    assert envelope["source"] == "/apis/scenefarm.dev/v1alpha1/namespaces/videos/videorequests/newton"
    assert envelope["subject"] == "newton"
    assert envelope["time"] == "2026-11-28T10:00:00Z"
    assert envelope["data"]["output"]["uri"].endswith("video.mp4")


def test_event_ids_are_the_same_for_the_same_fact_and_differ_for_a_new_one() -> None:
    again = events.due(json.loads(json.dumps(BODY)))
    assert events.due(BODY)[0].id == again[0].id
    finished_later = {**BODY, "status": {**BODY["status"], "finishedAt": "2026-11-28T11:00:00Z"}}
    assert events.due(finished_later)[0].id != again[0].id


def test_scene_events_are_sent_only_when_asked_for_and_only_for_finished_scenes() -> None:
    with_scenes = {**BODY, "spec": {**BODY["spec"], "notify": {"target": "team", "sceneEvents": True}}}
    types = [e.type for e in events.due(with_scenes)]
    assert types == ["dev.scenefarm.videorequest.scene.succeeded", "dev.scenefarm.videorequest.succeeded"]


def test_requests_in_progress_or_without_notify_call_for_nothing() -> None:
    running = {**BODY, "status": {**BODY["status"], "phase": "Rendering"}}
    assert events.due(running) == []
    assert events.due({**BODY, "spec": {"topic": "t"}}) == []


def test_cancelled_and_failed_requests_have_their_own_types() -> None:
    for phase, kind in (("Failed", "failed"), ("Cancelled", "cancelled")):
        body = {**BODY, "status": {**BODY["status"], "phase": phase}}
        assert events.due(body)[0].type == f"dev.scenefarm.videorequest.{kind}"


def test_failed_attempts_back_off_and_end_after_the_limit() -> None:
    book: ledger.Ledger = {}
    waits = []
    for _ in range(3):
        book, entry = ledger.recorded(
            book, "e1", "t", ok=False, error="HTTP 500", now=0.0, max_attempts=3, base=2.0
        )
        waits.append(entry.next)
    assert waits[:2] == [2.0, 4.0]
    assert book["e1"].result == ledger.ABANDONED and book["e1"].attempts == 3


def test_a_refused_destination_ends_the_event_at_once() -> None:
    book, entry = ledger.recorded(
        {}, "e1", "t", ok=False, error="private", now=0.0, max_attempts=8, base=2.0, final=True
    )
    assert entry.result == ledger.REFUSED and ledger.due_now(book, ["e1"], 100.0) == ([], None)


def test_the_ledger_survives_the_annotation_round_trip_and_tells_what_is_due() -> None:
    book, _ = ledger.recorded({}, "e1", "t", ok=False, error="x", now=100.0, max_attempts=8, base=2.0)
    book, _ = ledger.recorded(book, "e2", "t", ok=True, error="", now=100.0, max_attempts=8, base=2.0)
    loaded = ledger.load({ledger.ANNOTATION: ledger.dump(book)})
    assert loaded == book
    assert ledger.due_now(loaded, ["e1", "e2", "e3"], 101.0) == (["e3"], 1.0)
    assert ledger.due_now(loaded, ["e1", "e2"], 102.0) == (["e1"], None)


def test_a_mangled_annotation_starts_over() -> None:
    assert ledger.load({ledger.ANNOTATION: "{not json"}) == {}


def test_the_ledger_keeps_pending_entries_and_only_the_newest_finished_ones() -> None:
    book: ledger.Ledger = {f"d{i}": ledger.Entry("t", 1, 0.0, ledger.DELIVERED) for i in range(40)}
    book["p"] = ledger.Entry("t", 1, 5.0, ledger.PENDING)
    kept = ledger.load({ledger.ANNOTATION: ledger.dump(book)})
    assert "p" in kept and "d39" in kept and "d0" not in kept
    assert len(kept) == ledger.KEPT_FINISHED + 1


def test_a_signature_verifies_only_for_the_same_key_body_and_a_fresh_timestamp() -> None:
    header = signing.sign("k3y", b'{"a":1}', 1000)
    assert signing.verify("k3y", header, b'{"a":1}', now=1010)
    assert not signing.verify("other", header, b'{"a":1}', now=1010)
    assert not signing.verify("k3y", header, b'{"a":2}', now=1010)
    assert not signing.verify("k3y", header, b'{"a":1}', now=1000 + 10_000)
    assert not signing.verify("k3y", "garbage", b'{"a":1}', now=1000)
