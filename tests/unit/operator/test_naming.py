import re

import pytest

from scenefarm_operator.engine.manifests import naming

# DNS-1123 label (Job names become label values and Pod name prefixes) and subdomain (ConfigMaps).
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

LONGEST = "v" * 253  # the longest object name the API server accepts
LONG_WITH_DASH_AT_CUT = "a" * 38 + "-" + "b" * 214  # a '-' exactly where the Job name base is cut

NAMES = [
    # (case, request name)
    ("short", "newton"),
    ("exactly the job base limit", "n" * 46),
    ("one over the job base limit", "n" * 47),
    ("exactly a label value", "n" * 63),
    ("253 chars", LONGEST),
    ("a dash at the cut", LONG_WITH_DASH_AT_CUT),
]


@pytest.mark.parametrize(("case", "request_name"), NAMES, ids=[c for c, _ in NAMES])
def test_scene_job_names_are_dns_labels_within_63_chars(case: str, request_name: str) -> None:
    for index, attempt in ((0, 1), (49, 99), (99, 999)):
        name = naming.scene_job_name(request_name, index, attempt)
        assert len(name) <= 63, name
        assert DNS_LABEL.match(name), name


@pytest.mark.parametrize(("case", "request_name"), NAMES, ids=[c for c, _ in NAMES])
def test_combine_job_names_are_dns_labels_within_63_chars(case: str, request_name: str) -> None:
    name = naming.combine_job_name(request_name)
    assert len(name) <= 63
    assert DNS_LABEL.match(name)
    assert name.endswith("-combine")
    named_by_inputs = naming.combine_job_name(request_name, "ab" * 32)
    assert len(named_by_inputs) <= 63
    assert DNS_LABEL.match(named_by_inputs)
    assert named_by_inputs.endswith("-combine-ababa")


@pytest.mark.parametrize(("case", "request_name"), NAMES, ids=[c for c, _ in NAMES])
def test_plan_configmap_names_are_dns_subdomains_within_253_chars(case: str, request_name: str) -> None:
    name = naming.plan_configmap_name(request_name)
    assert len(name) <= 253
    assert DNS_SUBDOMAIN.match(name)
    assert name.endswith("-plan")


@pytest.mark.parametrize(("case", "request_name"), NAMES, ids=[c for c, _ in NAMES])
def test_request_label_is_a_valid_label_value(case: str, request_name: str) -> None:
    value = naming.request_labels(request_name)[naming.REQUEST_LABEL]
    assert len(value) <= 63
    assert LABEL_VALUE.match(value)


def test_a_dot_at_the_cut_still_gives_valid_child_names() -> None:
    # VideoRequest names are DNS subdomains, so dots are allowed. The Job base is cut after 39
    # chars, the ConfigMap base after 241.
    job = naming.scene_job_name("a" * 38 + "." + "b" * 20, 0, 1)
    configmap = naming.plan_configmap_name("a" * 240 + "." + "b" * 12)
    assert DNS_SUBDOMAIN.match(job), job
    assert DNS_SUBDOMAIN.match(configmap), configmap


def test_short_names_are_kept_as_they_are() -> None:
    assert naming.scene_job_name("newton", 3, 2) == "newton-s03-a2"
    assert naming.combine_job_name("newton") == "newton-combine"
    assert naming.plan_configmap_name("newton") == "newton-plan"


def test_long_names_are_cut_to_a_fixed_prefix_and_a_hash_of_the_whole_name() -> None:
    # sha256("v" * 253) starts with 185791: a restarted operator, of any version, finds these names.
    assert naming.base_name(LONGEST) == "v" * 39 + "-185791"
    assert naming.scene_job_name(LONGEST, 1, 1) == "v" * 39 + "-185791-s01-a1"
    assert naming.plan_configmap_name(LONGEST) == "v" * 241 + "-185791-plan"
    assert naming.request_key("videos", LONGEST) == ("videos", "v" * 56 + "-185791")


def test_a_combine_is_named_by_the_first_chars_of_its_input_digest() -> None:
    digest = "0320a303a7258a0d65f6f252285374817322bac0fe0239cab6ee36e5bff6218c"
    assert naming.combine_job_name("newton", digest) == "newton-combine-0320a"
    assert naming.combine_job_name(LONGEST, digest) == "v" * 39 + "-185791-combine-0320a"


def test_a_request_key_is_the_namespace_and_the_request_label_value() -> None:
    assert naming.request_key("videos", "newton") == ("videos", "newton")
    assert naming.request_key("videos", LONGEST)[1] == naming.request_labels(LONGEST)[naming.REQUEST_LABEL]


def test_long_names_with_a_common_prefix_stay_unique_through_the_hash() -> None:
    first, second = "x" * 100 + "-one", "x" * 100 + "-two"
    assert naming.base_name(first)[:39] == naming.base_name(second)[:39]
    assert naming.scene_job_name(first, 0, 1) != naming.scene_job_name(second, 0, 1)
    assert naming.combine_job_name(first) != naming.combine_job_name(second)
    assert naming.plan_configmap_name("x" * 300 + "1") != naming.plan_configmap_name("x" * 300 + "2")
    assert naming.request_labels(first) != naming.request_labels(second)


def test_truncated_name_keeps_a_readable_prefix_and_a_hash_suffix() -> None:
    base = naming.base_name(LONGEST)
    assert len(base) == 46
    assert re.fullmatch(r"v{39}-[0-9a-f]{6}", base)


def test_a_dash_at_the_cut_is_not_doubled() -> None:
    assert "--" not in naming.base_name(LONG_WITH_DASH_AT_CUT)


def test_scene_and_attempt_make_distinct_job_names() -> None:
    names = {naming.scene_job_name("vr", i, a) for i in range(12) for a in range(1, 12)}
    assert len(names) == 12 * 11


def test_scene_labels_follow_the_design() -> None:
    assert naming.scene_labels("newton", 4, 2) == {
        "app.kubernetes.io/managed-by": "scenefarm",
        "scenefarm.dev/request": "newton",
        "scenefarm.dev/scene": "4",
        "scenefarm.dev/role": "scene",
        "scenefarm.dev/attempt": "2",
    }


def test_combine_labels_follow_the_design() -> None:
    assert naming.combine_labels("newton") == {
        "app.kubernetes.io/managed-by": "scenefarm",
        "scenefarm.dev/request": "newton",
        "scenefarm.dev/role": "combine",
    }


def test_request_labels_carry_no_scene_or_role() -> None:
    assert naming.request_labels("newton") == {
        "app.kubernetes.io/managed-by": "scenefarm",
        "scenefarm.dev/request": "newton",
    }
