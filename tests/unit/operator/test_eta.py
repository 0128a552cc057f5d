from scenefarm_operator.observe import eta

T0 = 1_800_000_000.0


def at(offset: float) -> str:
    return eta.format_time(T0 + offset)


def test_running_statistics_start_at_the_first_value_and_follow_newer_ones() -> None:
    stat = eta.Stat().add(10.0)
    assert (stat.count, stat.mean, stat.var) == (1, 10.0, 0.0)
    for _ in range(30):
        stat = stat.add(30.0)
    assert 29.0 < stat.mean <= 30.0
    assert stat.count == 31


def test_statistics_survive_a_round_trip_through_configmap_data() -> None:
    stats = {"low": eta.Stat().add(12.0).add(14.0), "combine": eta.Stat().add(3.0)}
    assert eta.stats_from_data(eta.stats_to_data(stats)) == {
        "low": eta.Stat(2, 12.4, round(stats["low"].var, 3)),
        "combine": eta.Stat(1, 3.0, 0.0),
    }


def test_mangled_statistics_fall_back_to_the_prior() -> None:
    stats = eta.stats_from_data({"low": "not json"})
    assert eta.expected(stats, "low") == eta.PRIOR_SECONDS["low"]


def test_waiting_scenes_fill_the_free_slots_in_waves() -> None:
    scenes = [{"phase": "Queued"}] * 5
    assert eta.remaining_seconds(scenes, per_scene=10.0, parallelism=2, now=T0) == 30.0


def test_running_scenes_count_only_their_expected_rest() -> None:
    scenes = [
        {"phase": "Succeeded"},
        {"phase": "Running", "startedAt": at(-8)},
        {"phase": "Running", "startedAt": at(-2)},
        {"phase": "Queued"},
    ]
    # slots free at 2 s and 8 s; the queued scene takes the first: 2 + 10 = 12
    assert eta.remaining_seconds(scenes, per_scene=10.0, parallelism=2, now=T0) == 12.0


def test_a_scene_past_its_expected_duration_still_needs_a_moment() -> None:
    scenes = [{"phase": "Running", "startedAt": at(-100)}]
    assert eta.remaining_seconds(scenes, per_scene=10.0, parallelism=1, now=T0) == eta.MIN_REMAINING


def test_the_estimate_adds_the_combine_and_uses_the_quality_statistics() -> None:
    spec = {"render": {"parallelism": 1}}
    status = {"phase": "Rendering", "scenes": [{"phase": "Queued"}, {"phase": "Queued"}]}
    stats = {"medium": eta.Stat(5, 40.0, 1.0), "combine": eta.Stat(3, 6.0, 0.0)}
    assert eta.estimate(spec, status, stats, T0, "medium") == T0 + 86.0


def test_a_request_not_planned_yet_is_estimated_from_its_spec() -> None:
    spec = {"scenes": [{"name": "a"}, {"name": "b"}, {"name": "c"}], "render": {"parallelism": 3}}
    got = eta.estimate(spec, {"phase": "Pending"}, {}, T0, "low")
    assert got == T0 + eta.PRIOR_SECONDS["low"] + eta.PRIOR_SECONDS["combine"]


def test_finished_and_suspended_requests_have_no_estimate() -> None:
    for phase in ("Succeeded", "Failed", "Cancelled", "Suspended"):
        assert eta.estimate({}, {"phase": phase}, {}, T0, "low") is None


def test_combining_is_estimated_from_the_combine_statistics() -> None:
    stats = {"combine": eta.Stat(2, 4.0, 0.0)}
    assert eta.estimate({}, {"phase": "Combining", "scenes": []}, stats, T0, "low") == T0 + 4.0


def test_scene_duration_is_read_only_from_succeeded_scenes_with_both_times() -> None:
    assert eta.scene_duration({"phase": "Succeeded", "startedAt": at(0), "finishedAt": at(42)}) == 42.0
    assert eta.scene_duration({"phase": "Failed", "startedAt": at(0), "finishedAt": at(42)}) is None
    assert eta.scene_duration({"phase": "Succeeded", "startedAt": at(0)}) is None


def test_small_moves_of_the_estimate_are_not_published() -> None:
    assert not eta.changed_enough(at(100), at(108), T0)
    assert eta.changed_enough(at(100), at(120), T0)
    assert eta.changed_enough(None, at(100), T0)
