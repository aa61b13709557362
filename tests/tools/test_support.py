"""The stratified traffic share and its Wilson interval, against a hand computation."""

import pandas as pd
import pytest

from jobs.common.storage import read_table
from jobs.tools.stage import run_tools
from jobs.tools.support import stratified_share, strata_from_samples
from tests.tools.conftest import settings, write_week

WEEK = "2026-W47"


def test_two_strata_match_the_hand_computation():
    # stratum A: N=1000, n=4, k=2; stratum B: N=3000, n=5, k=1
    # W = (.25, .75); p = .25*.5 + .75*.2 = .275
    # V = .25^2 (1-4/1000) .5*.5/3 + .75^2 (1-5/3000) .2*.8/4 = .0051875 + .0224625 = .02765
    # n_eff = .275*.725/.02765 = 7.21067; z = 1.959964
    # Wilson: centre = (p + z^2/2n)/(1 + z^2/n) = .353204, half = .274617
    strata = pd.DataFrame({"N": [1000, 3000], "n": [4, 5], "fpc": [True, True]},
                          index=pd.Index(["A", "B"], name="stratum"))
    hits = pd.DataFrame({"tool_id": ["t", "t"], "stratum": ["A", "B"], "k": [2, 1]})
    row = stratified_share(hits, strata, 0.95).loc["t"]
    assert row["share"] == pytest.approx(0.275)
    assert row["low"] == pytest.approx(0.078587, abs=1e-5)
    assert row["high"] == pytest.approx(0.627821, abs=1e-5)


def test_a_tool_seen_nowhere_in_a_stratum_and_full_census():
    strata = pd.DataFrame({"N": [10], "n": [10], "fpc": [True]}, index=pd.Index(["A"], name="stratum"))
    hits = pd.DataFrame({"tool_id": ["t"], "stratum": ["A"], "k": [5]})
    row = stratified_share(hits, strata, 0.95).loc["t"]
    # census: no sampling variance, so Wilson falls back to n = 10
    assert row["share"] == 0.5 and 0.18 < row["low"] < 0.5 < row["high"] < 0.82


def test_without_samples_it_is_a_simple_random_sample():
    member, strata = strata_from_samples(None, pd.Series(["q1", "q2", "q2", "q3"]))
    assert list(strata["n"]) == [3] and not strata["fpc"].iloc[0] and len(member) == 3


def test_the_tools_table_carries_the_weighted_share(tmp_path):
    signals = [("a1", "colour", "black", None, "make it black", "black"),
               ("a2", "colour", "black", None, "make it black", "black"),
               ("a3", "colour", "red", None, "make it red", "red"),
               ("a4", "colour", "red", None, "make it red", "red"),
               ("b1", "price", "band", None, "price band", "high"),
               ("b2", "price", "other", None, "cheaper", ""),
               ("b3", "price", "other", None, "cheaper", ""),
               ("b4", "price", "other", None, "cheaper", ""),
               ("b5", "price", "other", None, "cheaper", ""),
               ("b1", "colour", "black", None, "make it black", "black")]
    write_week(tmp_path, WEEK, signals, strata={"colour": 1000, "price": 3000})
    run_tools(None, tmp_path, WEEK, settings())
    tools = read_table(tmp_path, "tools", WEEK).to_pandas().set_index("title")
    black = tools.loc["black"]  # 2 of 4 in stratum colour, 1 of 5 in stratum price: the hand case
    assert black["traffic_share"] == pytest.approx(0.275)
    assert black["traffic_share_low"] == pytest.approx(0.078587, abs=1e-5)
    assert black["traffic_share_high"] == pytest.approx(0.627821, abs=1e-5)
    assert black["n_queries"] == 3 and black["n_actions"] == 3
