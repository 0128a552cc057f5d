import datetime as dt

from scenefarm_cli.show.listing import rows

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def request(name, status, namespace="default"):
    created = (NOW - dt.timedelta(seconds=31)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
        "status": status,
    }


def test_the_table_has_phase_progress_scenes_and_age() -> None:
    headers, body = rows(
        [
            request(
                "a",
                {
                    "phase": "Failed",
                    "progress": 50,
                    "scenesTotal": 4,
                    "scenesSucceeded": 2,
                    "scenesFailed": 1,
                },
            )
        ],
        now=NOW,
    )
    assert headers == ["NAME", "PHASE", "PROGRESS", "SCENES", "AGE"]
    assert body[0][:4] == ["a", "Failed", "50%", "2/4 (1 failed)"]
    assert body[0][4] == "31s"


def test_an_eta_column_appears_when_a_status_has_an_estimate() -> None:
    soon = (NOW + dt.timedelta(seconds=95)).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers, body = rows(
        [
            request("a", {"phase": "Rendering", "estimatedCompletionTime": soon}),
            request("b", {}, namespace="videos"),
        ],
        namespaces=True,
        now=NOW,
    )
    assert headers == ["NAMESPACE", "NAME", "PHASE", "PROGRESS", "SCENES", "ETA", "AGE"]
    assert body[0][:5] == ["default", "a", "Rendering", "0%", "0/0"] and body[0][5] == "95s"
    assert body[1][:6] == ["videos", "b", "Pending", "0%", "0/0", "-"]
