"""Action preprocessing: index markers, punctuation, case, segmentation, stop words.

The paper's recipe, step by step: strip one leading index marker ("1.", "(2)",
"①"), turn punctuation into spaces, lower-case, segment (jieba for Chinese runs,
whitespace for everything else) and drop stop words (scikit-learn's English
list plus a small Chinese list).

>>> tokenize("1. Refine the search condition -> colour: Black")
['refine', 'search', 'condition', 'colour', 'black']
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import unicodedata

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

CHINESE_STOP_WORDS = frozenset(
    "的 了 和 与 及 或 是 在 把 将 给 对 为 被 从 到 这 那 这个 那个 一个 一些 "
    "请 要 也 就 都 而 并 等 个 吗 呢 吧 啊 之 其 以 于 着 过 地 得".split()
)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | CHINESE_STOP_WORDS

# Circled, parenthesised and full-stop digit forms: ①-⑳, ⑴-⒇, ⒈-⒛, ⓵-⓾, ❶-➓, ㉑-㉟, ㊱-㊿.
_ENCLOSED_DIGITS = "\u2460-\u249b\u24f5-\u24fe\u2776-\u2793\u3251-\u325f\u32b1-\u32bf"
_INDEX_MARKER = re.compile(
    r"^\s*(?:"
    rf"[{_ENCLOSED_DIGITS}]"  # ①
    r"|[(（\[]\s*\d{1,3}\s*[)）\]]"  # (2) （2） [2]
    r"|\d{1,3}\s*[.．、)）:：](?!\d)"  # 1.  2)  3、  but not 1.5
    r")\s*"
)
HAN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]+)")


@functools.lru_cache(maxsize=1)
def _punctuation_table() -> dict[int, str]:
    """Every Unicode punctuation (P*) and symbol (S*) code point mapped to a space."""
    return {
        cp: " "
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp))[0] in "PS"
    }


@functools.lru_cache(maxsize=1)
def _jieba():
    """Import jieba on first Chinese text only (its dictionary takes a second to load)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def strip_index_marker(text: str) -> str:
    """Remove one leading list marker such as ``1.``, ``(2)`` or ``①``.

    >>> strip_index_marker("(2) segment price range")
    'segment price range'
    >>> strip_index_marker("1.5 kg bags")
    '1.5 kg bags'
    """
    return _INDEX_MARKER.sub("", text, count=1)


def normalize(text: str) -> str:
    """Punctuation and symbols to spaces, lower-case, single spaces, no marker stripping."""
    return " ".join(text.translate(_punctuation_table()).lower().split())


def clean_action(text: str) -> str:
    """The text of an action that is embedded: marker stripped, then :func:`normalize`.

    >>> clean_action("① Add brand filter (OCR text)!")
    'add brand filter ocr text'
    """
    return normalize(strip_index_marker(text))


def segment(clean: str) -> list[str]:
    """Split normalised text into words: jieba inside Han runs, whitespace elsewhere."""
    if not HAN.search(clean):
        return clean.split()
    words: list[str] = []
    for part in HAN.split(clean):
        if HAN.fullmatch(part):
            words.extend(w for w in _jieba().lcut(part) if w.strip())
        else:
            words.extend(part.split())
    return words


def content_tokens(clean: str) -> list[str]:
    """Tokens of an already cleaned text, stop words dropped, repeats kept."""
    return [w for w in segment(clean) if w not in STOP_WORDS]


def tokenize(text: str) -> list[str]:
    """Preprocess a raw action into its content tokens (stop words dropped, repeats kept)."""
    return content_tokens(clean_action(text))
