import pytest

from scenefarm_operator.support.errors import SettingsError
from scenefarm_operator.support.settings import Settings


def test_observability_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "SCENEFARM_METRICS_PORT": "9090",
            "SCENEFARM_LOG_FORMAT": "json",
            "SCENEFARM_NOTIFY_SECRET_REFS": "true",
            "SCENEFARM_NOTIFY_MAX_ATTEMPTS": "3",
        }
    )
    assert (settings.metrics_port, settings.log_format) == (9090, "json")
    assert settings.notify_secret_refs is True and settings.notify_max_attempts == 3
    assert Settings.from_env({"SCENEFARM_NOTIFY_SECRET_REFS": "false"}).notify_secret_refs is False


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SCENEFARM_LOG_FORMAT", "xml", "text or json"),
        ("SCENEFARM_METRICS_PORT", "70000", "port number"),
        ("SCENEFARM_NOTIFY_SECRET_REFS", "maybe", "SCENEFARM_NOTIFY_SECRET_REFS"),
        ("SCENEFARM_NOTIFY_MAX_ATTEMPTS", "0", "at least 1"),
    ],
)
def test_bad_observability_settings_are_refused_by_name(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({variable: value})
