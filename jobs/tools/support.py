"""Share of the week's no-click traffic that needs a tool, with a confidence interval
that respects the stratified sample (one stratum per main category).

With strata h, population N_h (the category's no-click queries this week), n_h
sampled queries and k_h of them needing the tool (at least one signal in its group):

    W_h = N_h / N,  p_h = k_h / n_h,  p = sum_h W_h p_h
    V   = sum_h W_h^2 (1 - n_h/N_h) p_h (1 - p_h) / (n_h - 1)     (0 when n_h = 1)

and the interval is Wilson's score interval at level ``confidence`` taken with the
effective sample size n_eff = p (1 - p) / V (Kish; n_eff = sum n_h when V = 0):

    centre = (p + z^2/(2 n_eff)) / (1 + z^2/n_eff)
    half   = z / (1 + z^2/n_eff) * sqrt(p (1-p) / n_eff + z^2 / (4 n_eff^2))

Without population figures (no ``samples`` table) every stratum gets N_h = n_h
weights and no finite-population correction: a simple random sample.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd


def strata_from_samples(samples: pd.DataFrame | None, queries: pd.Series) -> pd.DataFrame:
    """query_id -> stratum, and per stratum N_h and n_h.

    Returns (membership, strata): membership has columns query_id, stratum; strata is
    indexed by stratum with columns N, n, fpc (whether the population is known).
    """
    if samples is not None and len(samples):
        member = samples[["query_id", "main_category"]].rename(columns={"main_category": "stratum"})
        strata = samples.groupby("main_category").agg(N=("category_population", "max"),
                                                      n=("query_id", "nunique"))
        strata.index.name = "stratum"
        strata["N"] = np.maximum(strata["N"], strata["n"])
        strata["fpc"] = True
        return member.drop_duplicates("query_id"), strata
    unique = pd.Series(queries.unique(), name="query_id")
    member = pd.DataFrame({"query_id": unique, "stratum": "all"})
    strata = pd.DataFrame({"N": [len(unique)], "n": [len(unique)], "fpc": [False]},
                          index=pd.Index(["all"], name="stratum"))
    return member, strata


def stratified_share(hits: pd.DataFrame, strata: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per tool: share, low, high.

    ``hits`` has columns tool_id, stratum, k (sampled queries in the stratum needing the
    tool); ``strata`` is indexed by stratum with N, n and fpc.
    """
    if not len(hits):
        return pd.DataFrame(columns=["share", "low", "high"], index=pd.Index([], name="tool_id"))
    k = hits.pivot_table(index="tool_id", columns="stratum", values="k", aggfunc="sum", fill_value=0)
    k = k.reindex(columns=strata.index, fill_value=0).to_numpy(dtype=float)
    n = strata["n"].to_numpy(dtype=float)
    N = strata["N"].to_numpy(dtype=float)
    W = N / N.sum()
    p_h = k / n
    fpc = np.where(strata["fpc"].to_numpy(), 1.0 - n / N, 1.0)
    var_h = np.where(n > 1, p_h * (1 - p_h) / np.maximum(n - 1, 1), 0.0)
    p = p_h @ W
    variance = (var_h * fpc) @ (W ** 2)
    low, high = wilson(p, variance, n.sum(), confidence)
    tools = hits.pivot_table(index="tool_id", columns="stratum", values="k", aggfunc="sum").index
    return pd.DataFrame({"share": p, "low": low, "high": high}, index=tools)


def wilson(p: np.ndarray, variance: np.ndarray, n_total: float, confidence: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score bounds with the effective sample size p(1-p)/variance."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    variance = np.asarray(variance, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(variance > 0, p * (1 - p) / variance, n_total)
    n_eff = np.maximum(n_eff, 1e-12)
    denom = 1 + z * z / n_eff
    centre = (p + z * z / (2 * n_eff)) / denom
    half = z / denom * np.sqrt(p * (1 - p) / n_eff + z * z / (4 * n_eff ** 2))
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
