import pytest

from scenefarm_cli.actions import spec_patch


@pytest.mark.parametrize(
    ("action", "spec", "patch"),
    [
        ("retry", {}, {"retryGeneration": 1}),
        ("retry", {"retryGeneration": 4}, {"retryGeneration": 5}),
        ("cancel", {}, {"cancel": True}),
        ("suspend", {}, {"suspend": True}),
        ("resume", {"suspend": True}, {"suspend": False}),
    ],
)
def test_each_action_is_one_spec_change(action, spec, patch) -> None:
    assert spec_patch(action, spec) == patch
