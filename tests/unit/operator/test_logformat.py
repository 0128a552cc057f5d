import json
import logging

from scenefarm_operator.observe.logformat import JsonLines


def test_a_record_about_a_request_carries_its_namespace_name_uid_and_phase() -> None:
    record = logging.LogRecord(
        "kopf.objects", logging.INFO, __file__, 1, "Handler %s succeeded.", ("x",), None
    )
    record.k8s_ref = {"namespace": "videos", "name": "newton", "uid": "u-1", "kind": "VideoRequest"}
    line = json.loads(JsonLines(lambda uid: "Rendering" if uid == "u-1" else None).format(record))
    assert line["message"] == "Handler x succeeded."
    assert (line["namespace"], line["name"], line["uid"], line["phase"]) == (
        "videos",
        "newton",
        "u-1",
        "Rendering",
    )
    assert line["level"] == "INFO" and line["logger"] == "kopf.objects" and line["time"].endswith("+00:00")


def test_a_record_about_nothing_in_particular_is_still_one_json_object() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(JsonLines(lambda uid: None).format(record))
    assert "uid" not in line and "ValueError: boom" in line["exception"]
