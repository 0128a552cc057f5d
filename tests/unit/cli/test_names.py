import pytest

from scenefarm_cli.names import MAX_LENGTH, is_valid_name, name_for_topic


@pytest.mark.parametrize(
    ("topic", "name"),
    [
        ("Newton's laws", "newtons-laws"),
        ("Newton’s laws", "newtons-laws"),
        ("The Fourier Transform, visually!", "the-fourier-transform-visually"),
        ("  Schrödinger  equation ", "schrodinger-equation"),
        ("E = mc²", "e-mc2"),
        ("2D rotations", "2d-rotations"),
    ],
)
def test_a_topic_names_its_request_the_way_docs_say(topic, name) -> None:
    assert name_for_topic(topic) == name
    assert is_valid_name(name)


def test_the_same_topic_always_gives_the_same_name() -> None:
    assert name_for_topic("Newton's laws") == name_for_topic("NEWTON'S   LAWS")


def test_long_topics_are_cut_at_a_word_boundary() -> None:
    name = name_for_topic("Why the sky is blue and sunsets are red on a clear summer evening")
    assert name == "why-the-sky-is-blue-and-sunsets-are-red"
    assert len(name) <= MAX_LENGTH


def test_a_topic_without_letters_or_digits_gives_no_name() -> None:
    assert name_for_topic("!!! ???") == ""
    assert name_for_topic("微积分") == ""


@pytest.mark.parametrize("bad", ["Upper", "-lead", "trail-", "a_b", "x" * 254, ""])
def test_invalid_names_are_recognised(bad) -> None:
    assert not is_valid_name(bad)
