"""Preprocessing: index markers, punctuation, case, stop words, jieba for Chinese."""

import pytest

from clustering.tokens import clean_action, strip_index_marker, tokenize


@pytest.mark.parametrize("raw, expected", [
    ("1. segment price range", "segment price range"),
    ("12) segment price range", "segment price range"),
    ("(2) segment price range", "segment price range"),
    ("（3）segment price range", "segment price range"),
    ("① segment price range", "segment price range"),
    ("⑳segment price range", "segment price range"),
    ("❷ segment price range", "segment price range"),
    ("3、segment price range", "segment price range"),
    ("  4. segment price range", "segment price range"),
    ("1.5 kg bags", "1.5 kg bags"),  # a decimal is not a marker
    ("2026 new arrivals", "2026 new arrivals"),  # nor a bare number
    ("segment 1. price", "segment 1. price"),  # only a leading marker
])
def test_strip_index_marker(raw, expected):
    assert strip_index_marker(raw) == expected


def test_only_one_marker_is_stripped():
    assert strip_index_marker("1. (2) refine") == "(2) refine"


def test_punctuation_and_symbols_become_spaces_then_lower_case():
    assert clean_action("2) Refine search-condition -> Colour: BLACK!!") == "refine search condition colour black"
    assert clean_action("Add brand filter (OCR text “Blendy”)") == "add brand filter ocr text blendy"


def test_english_stop_words_are_dropped_and_repeats_kept():
    assert tokenize("Show me all of the black and the black dresses") == ["black", "black", "dresses"]


def test_an_action_of_stop_words_only_has_no_tokens():
    assert tokenize("1. do it for me") == []


def test_chinese_is_segmented_by_jieba_and_chinese_stop_words_dropped():
    assert tokenize("① 把颜色改为黑色的") == ["颜色", "改为", "黑色"]


def test_mixed_chinese_and_latin():
    assert tokenize("(2) 按品牌筛选: OCR 文字 Blendy") == ["按", "品牌", "筛选", "ocr", "文字", "blendy"]
