import pytest

from scenefarm_operator.planning import text


def test_clean_drops_controls_and_bidi_overrides_and_collapses_spaces():
    assert text.clean("a\x00b \u202e c\t\td\u200b") == "ab c d"


@pytest.mark.parametrize(
    ("description", "points"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("line one\nline two. still two", ["line one", "line two. still two"]),
        ("1. first\n2. second", ["first", "second"]),
        ("a) first\n(b) second\n• third", ["first", "second", "third"]),
        ("a. b.", ["a.", "b."]),
        ("-5 degrees\n1.5 million", ["-5 degrees", "1.5 million"]),
        ("作用。反作用。", ["作用。", "反作用。"]),
        ("", []),
        ("\u2028- a\u2029- b", ["a", "b"]),
    ],
)
def test_split_points(description, points):
    assert text.split_points(description) == points


def test_long_points_are_cut_at_a_word_with_an_ellipsis():
    (point,) = text.split_points("word " * 200, limit=50)
    assert len(point) <= 50
    assert point.endswith("word…")


def test_wrap_breaks_words_longer_than_a_line():
    assert max(len(line) for line in text.wrap("x" * 100, 30).splitlines()) == 30


def test_chunk_keeps_order_and_balances_lengths():
    assert text.chunk(list("abcde"), 2) == [["a", "b", "c"], ["d", "e"]]
    assert text.chunk(list("ab"), 5) == [["a"], ["b"]]
    assert text.chunk(list("ab"), 0) == []
