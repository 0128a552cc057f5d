import dataclasses

import pytest

from scenefarm_operator.support.errors import SettingsError
from scenefarm_operator.support.settings import Settings


def test_no_variables_give_the_defaults() -> None:
    assert Settings.from_env({}) == Settings()


def test_empty_variables_mean_unset() -> None:
    assert (
        Settings.from_env({"SCENEFARM_MAX_RUNNING_SCENE_JOBS": "", "SCENEFARM_NAMESPACES": ""}) == Settings()
    )


PARSED = [
    # (case, variable, value, field, parsed)
    (
        "a string",
        "SCENEFARM_RENDERER_IMAGE",
        "registry.local/renderer:dev",
        "renderer_image",
        "registry.local/renderer:dev",
    ),
    ("an integer", "SCENEFARM_MAX_RUNNING_SCENE_JOBS", "7", "max_running_scene_jobs", 7),
    ("a float", "SCENEFARM_RESYNC_SECONDS", "2.5", "resync_seconds", 2.5),
    ("an integer as a float", "SCENEFARM_RECONCILE_DEBOUNCE_SECONDS", "1", "reconcile_debounce_seconds", 1.0),
    ("one namespace", "SCENEFARM_NAMESPACES", "videos", "namespaces", ("videos",)),
    ("namespaces with spaces and gaps", "SCENEFARM_NAMESPACES", " a, b ,,c ", "namespaces", ("a", "b", "c")),
    ("a store", "SCENEFARM_ARTIFACT_STORE", "Appwrite", "artifact_store", "Appwrite"),
    ("a quality", "SCENEFARM_DEFAULT_QUALITY", "fourk", "default_quality", "fourk"),
    ("a kueue queue", "SCENEFARM_KUEUE_QUEUE_NAME", "render", "kueue_queue_name", "render"),
    ("a secret", "SCENEFARM_GEMINI_API_KEY", "AIza-secret", "gemini_api_key", "AIza-secret"),
]


@pytest.mark.parametrize(("case", "var", "raw", "field", "value"), PARSED, ids=[p[0] for p in PARSED])
def test_from_env_parses_each_kind_of_variable(
    case: str, var: str, raw: str, field: str, value: object
) -> None:
    settings = Settings.from_env({var: raw})
    assert getattr(settings, field) == value
    assert type(getattr(settings, field)) is type(value)


VALID = {
    "artifact_store": "Appwrite",
    "default_quality": "high",
    "appwrite_on_delete": "Retain",
    "log_format": "json",
}
BY_TYPE = {
    "int": ("7", 7),
    "float": ("3.5", 3.5),
    "tuple[str, ...]": ("ns1,ns2", ("ns1", "ns2")),
    "bool": ("true", True),
}


# Settings that only make sense together with others.
NEEDS = {
    "intake_namespace": {
        "SCENEFARM_APPWRITE_ENDPOINT": "https://appwrite.example/v1",
        "SCENEFARM_APPWRITE_PROJECT": "p",
        "SCENEFARM_APPWRITE_API_KEY": "k",
        "SCENEFARM_APPWRITE_CREDENTIALS_SECRET": "s",
    },
    "leader_election_lease": {"SCENEFARM_LEADER_ELECTION_NAMESPACE": "ops"},
}


@pytest.mark.parametrize("field", dataclasses.fields(Settings), ids=lambda f: f.name)
def test_every_field_is_read_from_its_scenefarm_variable(field: dataclasses.Field[object]) -> None:
    raw, value = BY_TYPE.get(str(field.type), (VALID.get(field.name, f"x-{field.name}"),) * 2)
    settings = Settings.from_env({"SCENEFARM_" + field.name.upper(): raw} | NEEDS.get(field.name, {}))
    assert getattr(settings, field.name) == value != getattr(Settings(), field.name)


def test_variables_without_the_prefix_are_ignored() -> None:
    assert Settings.from_env({"RENDERER_IMAGE": "x", "MAX_RUNNING_SCENE_JOBS": "oops"}) == Settings()


BAD = [
    # (case, variable, value)
    ("not an integer", "SCENEFARM_MAX_RUNNING_SCENE_JOBS", "many"),
    ("a float for an integer", "SCENEFARM_MAX_RUNNING_SCENE_JOBS", "2.5"),
    ("zero running jobs", "SCENEFARM_MAX_RUNNING_SCENE_JOBS", "0"),
    ("negative running jobs", "SCENEFARM_MAX_RUNNING_SCENE_JOBS", "-3"),
    ("not a float", "SCENEFARM_RESYNC_SECONDS", "soon"),
    ("not a float either", "SCENEFARM_RECONCILE_DEBOUNCE_SECONDS", "50ms"),
    ("an unknown store", "SCENEFARM_ARTIFACT_STORE", "S3"),
    ("a store in the wrong case", "SCENEFARM_ARTIFACT_STORE", "volume"),
    ("an unknown quality", "SCENEFARM_DEFAULT_QUALITY", "ultra"),
    ("a web intake without Appwrite", "SCENEFARM_INTAKE_NAMESPACE", "web"),
]


def test_the_web_intake_never_shares_the_default_namespace() -> None:
    appwrite = {
        "SCENEFARM_APPWRITE_ENDPOINT": "https://appwrite.example/v1",
        "SCENEFARM_APPWRITE_PROJECT": "p",
        "SCENEFARM_APPWRITE_API_KEY": "k",
        "SCENEFARM_APPWRITE_CREDENTIALS_SECRET": "s",
    }
    with pytest.raises(SettingsError, match="a namespace of its own"):
        Settings.from_env(appwrite | {"SCENEFARM_INTAKE_NAMESPACE": "default"})


@pytest.mark.parametrize(("case", "var", "raw"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_value_is_refused_naming_the_variable(case: str, var: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=var):
        Settings.from_env({var: raw})


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().renderer_image = "other"  # type: ignore[misc]


def test_secrets_stay_out_of_repr_and_str() -> None:
    settings = Settings.from_env(
        {
            "SCENEFARM_APPWRITE_API_KEY": "standard_0123456789abcdef",
            "SCENEFARM_GEMINI_API_KEY": "AIzaSyFakeKey",
        }
    )
    for text in (repr(settings), str(settings)):
        assert "standard_0123456789abcdef" not in text
        assert "AIzaSyFakeKey" not in text
        assert "renderer_image" in text


APPWRITE = [
    # (case, endpoint, project, key, enabled)
    ("all three", "https://aw.local/v1", "p", "k", True),
    ("no key", "https://aw.local/v1", "p", "", False),
    ("no project", "https://aw.local/v1", "", "k", False),
    ("no endpoint", "", "p", "k", False),
]


@pytest.mark.parametrize(
    ("case", "endpoint", "project", "key", "enabled"), APPWRITE, ids=[a[0] for a in APPWRITE]
)
def test_appwrite_is_enabled_only_with_endpoint_project_and_key(
    case: str, endpoint: str, project: str, key: str, enabled: bool
) -> None:
    settings = Settings(appwrite_endpoint=endpoint, appwrite_project=project, appwrite_api_key=key)
    assert settings.appwrite_enabled is enabled


def test_from_env_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENEFARM_KUEUE_QUEUE_NAME", "from-process")
    assert Settings.from_env().kueue_queue_name == "from-process"
