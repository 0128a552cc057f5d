import datetime as dt
import io

import pytest

from scenefarm_cli.output import Output, age, eta, human_duration, table


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (192, "3m12s"),
        (600, "10m"),
        (2820, "47m"),
        (18180, "5h3m"),
        (108000, "30h"),
        (273600, "3d4h"),
        (1036800, "12d"),
    ],
)
def test_durations_read_like_kubectl(seconds, text) -> None:
    assert human_duration(seconds) == text


def test_age_and_eta_are_measured_from_now() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert age("2026-01-01T11:59:29Z", now) == "31s"
    assert age(None, now) == "<unknown>"
    assert eta({"phase": "Rendering", "estimatedCompletionTime": "2026-01-01T12:01:30Z"}, now) == "90s"
    assert eta({"phase": "Succeeded", "estimatedCompletionTime": "2026-01-01T12:01:30Z"}, now) == "-"
    assert eta({"phase": "Rendering"}, now) == "-"


def test_a_table_pads_columns_like_kubectl_and_never_wraps() -> None:
    assert table(["NAME", "PHASE"], [["a", "Succeeded"], ["longer-name", "Failed"]]) == (
        "NAME          PHASE\na             Succeeded\nlonger-name   Failed"
    )


def test_without_a_terminal_output_is_plain_and_long_paths_stay_on_one_line() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output.create(stdout, stderr)
    path = "/very/long/" + "directory/" * 30 + "video.mp4"
    out.line(f"video ready: {path} [bold]not markup[/bold]", style="green")
    out.error("no such thing")
    assert not out.live
    assert stdout.getvalue() == f"video ready: {path} [bold]not markup[/bold]\n"
    assert stderr.getvalue() == "error: no such thing\n"


def test_no_color_turns_the_live_view_off_even_on_a_terminal(monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    out = Output.create(io.StringIO(), io.StringIO())
    out.out._force_terminal = True
    assert out.out.is_terminal
    assert not out.live


def test_data_prints_json_or_yaml_for_scripts() -> None:
    stdout = io.StringIO()
    out = Output.create(stdout, io.StringIO())
    out.data({"kind": "VideoRequest", "metadata": {"name": "x"}}, "json")
    out.data({"kind": "VideoRequest"}, "yaml")
    assert (
        stdout.getvalue()
        == '{\n  "kind": "VideoRequest",\n  "metadata": {\n    "name": "x"\n  }\n}\nkind: VideoRequest\n'
    )


def test_an_overdue_or_stalled_estimate_is_unknown_never_zero() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert eta({"phase": "Rendering", "estimatedCompletionTime": "2026-01-01T11:59:00Z"}, now) == "unknown"
    stalled = {"type": "Stalled", "status": "True", "reason": "PodNotStarting"}
    status = {
        "phase": "Rendering",
        "estimatedCompletionTime": "2026-01-01T12:01:30Z",
        "conditions": [stalled],
    }
    assert eta(status, now) == "unknown"
