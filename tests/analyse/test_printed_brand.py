"""The rules analyst reads the brand printed on generated photos, and a query with no finding
makes no signal."""

import numpy as np

from jobs.analyse.features import foreground_mask
from jobs.analyse.ocr import NONE, read_brand
from jobs.analyse.results import NO_FINDING, QueryResult, StageOutput, no_finding, signal_rows
from jobs.generate.images import draw_item
from jobs.generate.photos import noise_bank, shopper_photo

BANK = noise_bank(1)  # the generator's camera noise

BRANDS = ("Lindt", "Nestle", "Bestore", "Three Squirrels", "Liziqi", "Dove")


def test_printed_brand_is_read_from_the_photo():
    rng = np.random.default_rng(3)
    right = 0
    for i in range(24):
        brand = BRANDS[i % len(BRANDS)]
        colour = ("black", "red", "white", "yellow", "blue", "green")[i % 6]
        img = np.asarray(shopper_photo(draw_item(96, "box", colour, rng, brand), rng, BANK))
        right += read_brand(img, foreground_mask(img), BRANDS) == brand
    assert right >= 21  # at least 7 of 8


def test_a_photo_without_text_reads_nothing():
    rng = np.random.default_rng(4)
    wrong = 0
    for i in range(12):
        img = np.asarray(shopper_photo(draw_item(96, "box", ("black", "red", "white")[i % 3], rng, None), rng, BANK))
        wrong += read_brand(img, foreground_mask(img), BRANDS) != NONE
    assert wrong <= 1


def test_the_handed_over_ink_reads_what_the_photo_reads():
    """The cache stage hands the analyst each photo's ink packed: unpacked, it is the same mask
    (odd sizes too), and a mask too thin to print a word keeps no bits."""
    from jobs.analyse.features import packed_ink, printed_brand, unpacked_ink
    from jobs.analyse.ocr import ink_mask
    from jobs.analyse.ocr import brand_in_ink

    rng = np.random.default_rng(5)
    for i, side in enumerate((96, 61)):
        img = np.asarray(shopper_photo(draw_item(side, "box", ("black", "white")[i], rng, BRANDS[i]), rng, BANK))
        ink = ink_mask(img, foreground_mask(img))
        assert ink.sum() >= 12
        np.testing.assert_array_equal(unpacked_ink(packed_ink(ink)), ink)
        assert brand_in_ink(unpacked_ink(packed_ink(ink)), BRANDS) == printed_brand(img, BRANDS)
    thin = np.zeros((7, 9), bool)
    thin[3, :5] = True
    row = packed_ink(thin)
    assert row["ink"] is None and not unpacked_ink(row).any() and unpacked_ink(row).shape == (7, 9)


def _result(actions):
    out = {"reasoning": "r", "compressed_reasoning": "c",
           "signals": [{"action": a, "info": "apparel"} for a in actions]}
    return QueryResult("q1", "apparel", StageOutput("ok"), StageOutput("ok", output=out, backend="rules"))


def test_no_rule_makes_no_signal_but_is_counted():
    nothing = _result([NO_FINDING])
    assert signal_rows(nothing, "run") == [] and no_finding(nothing)
    found = _result(["refine search condition"])
    assert len(signal_rows(found, "run")) == 1 and not no_finding(found)


def test_template_scores_equal_a_direct_sliding_window():
    """The cropped, circular FFT search scores every template as a plain sliding window does."""
    from jobs.analyse.ocr import SCALES, _scores, _template

    rng = np.random.default_rng(11)
    words = [(w, s) for w in BRANDS for s in SCALES[::3]]
    for trial in range(6):
        ink = np.zeros((96, 70 + 5 * trial), bool)
        top, left = rng.integers(0, 60), rng.integers(0, 30)
        ink[top:top + 30, left:left + 40] = rng.random((30, 40)) < 0.3  # a blob of ink, away from the edges
        ink[rng.integers(0, 96, 6), rng.integers(0, ink.shape[1], 6)] = True  # and stray specks
        got = _scores(ink, words)
        for (word, scale), score in zip(words, got):
            t = _template(word, scale)
            h, w = t.shape
            if h > ink.shape[0] or w > ink.shape[1]:
                assert score == 0.0
                continue
            windows = np.lib.stride_tricks.sliding_window_view(ink, (h, w))
            overlap = (windows & t).sum((2, 3))
            direct = (overlap / np.sqrt(t.sum() * np.maximum(windows.sum((2, 3)), 1))).max()
            assert abs(score - direct) < 1e-4, (word, scale)
