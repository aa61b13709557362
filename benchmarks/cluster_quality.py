"""Clustering quality on labelled public data (HWU64, BANKING77): NMI, ARI, clusters found.

For each open set an ontology is proposed from the texts alone (``--backend data``),
and the default (and the paper's mode) assign the texts; the
predicted label of a text is its main category (level 1) or main/sub pair (level 2), its
auxiliary cluster when unassigned, and one shared "noise" label for DBSCAN noise. The
peers (BERTopic, k-means given the true K, HDBSCAN alone) see the same rows and vectors.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from clustering.embeddings import Encoder
from clustering.params import BEST, PAPER
from clustering.pipeline import ActionClusterer, distinct_actions
from jobs.ontology.propose import propose_from_data

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def datasets() -> dict[str, tuple[list[str], dict[str, np.ndarray]]]:
    """name -> (texts, {level: gold labels}); HWU64 all 11,036 rows, BANKING77 test split."""
    hwu = pd.read_csv(DATA / "hwu64" / "hwu64_10fold_all.csv")
    bank = pd.read_csv(DATA / "banking77" / "test.csv")
    return {
        "HWU64": (hwu["text"].tolist(), {"L1 scenario": hwu["scenario"].to_numpy(),
                                         "L2 intent": hwu["intent"].to_numpy()}),
        "BANKING77": (bank["text"].tolist(), {"L2 intent": bank["category"].to_numpy()}),
    }


def hungarian_accuracy(gold: np.ndarray, pred: np.ndarray) -> float:
    """Best one-to-one matching of predicted clusters to classes; unmatched rows count as wrong."""
    g_values, g = np.unique(gold, return_inverse=True)
    p_values, p = np.unique(pred, return_inverse=True)
    counts = np.zeros((p_values.size, g_values.size))
    np.add.at(counts, (p, g), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / gold.size)


def scores(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {"NMI": normalized_mutual_info_score(gold, pred), "ARI": adjusted_rand_score(gold, pred),
            "ACC": hungarian_accuracy(gold, pred), "k": float(np.unique(pred).size)}


def predicted_levels(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Level-1 and level-2 labels of the command's output rows."""
    assigned = frame["main_category"].notna().to_numpy()
    aux = np.where(frame["aux_cluster"].fillna(-1).to_numpy() >= 0,
                   "aux " + frame["aux_cluster"].astype(str), "noise")
    main = np.where(assigned, frame["main_category"].astype(str), aux)
    fine = np.where(assigned, frame["main_category"].astype(str) + " / " + frame["subcategory"].astype(str), aux)
    return {"L1 scenario": main, "L2 intent": fine}


# ---------------------------------------------------------------- peers on identical embeddings
HWU_ROWS = 5_000


def open_sets(seed: int = 0) -> dict[str, tuple[list[str], dict[str, np.ndarray]]]:
    """HWU64 (5,000 rows drawn with a fixed seed) and the BANKING77 test split (3,080 rows)."""
    sets = datasets()
    texts, gold = sets["HWU64"]
    rows = np.sort(np.random.default_rng(seed).choice(len(texts), HWU_ROWS, replace=False))
    sets["HWU64"] = ([texts[i] for i in rows], {k: v[rows] for k, v in gold.items()})
    return sets


def compare_peers(name: str, texts: list[str], gold: dict[str, np.ndarray], encoder: Encoder,
                  work: Path) -> list[dict]:
    """Default, paper's mode, BERTopic, k-means given the true K, HDBSCAN: same rows, same vectors.

    The default and the paper's mode assign against the ontology proposed from the texts
    alone (nobody is told K); ``subcategories`` is the proposal's count (the fine truth's
    count is in the k-means row).
    """
    from cluster_peers import bertopic_labels, hdbscan_labels, kmeans_labels

    started = time.perf_counter()
    ontology = propose_from_data(texts, encoder)
    propose_s = time.perf_counter() - started
    n_sub = sum(len(c.subcategories) for c in ontology.categories)
    predicted: dict[str, dict[str, np.ndarray]] = {}
    extra: dict[str, str] = {}
    for label, config in (("default (best)", BEST), ("paper's mode", PAPER)):
        predicted[label] = predicted_levels(ActionClusterer(encoder, config).run(texts, ontology))
        extra[label] = f"{len(ontology.categories)} main / {n_sub} sub proposed in {propose_s:.0f}s"
    distinct = distinct_actions(texts)
    X = encoder.encode(distinct.texts)[distinct.row_code]
    topics = bertopic_labels(texts, X, work)
    if topics is not None:
        predicted["BERTopic"] = {level: topics for level in gold}
        extra["BERTopic"] = f"{np.unique(topics[topics >= 0]).size} topics, {np.mean(topics < 0):.0%} outliers"
    predicted["k-means, true K"] = {level: kmeans_labels(X, np.unique(g).size) for level, g in gold.items()}
    extra["k-means, true K"] = ", ".join(f"K {np.unique(g).size} ({level})" for level, g in gold.items())
    hd = hdbscan_labels(X)
    predicted["HDBSCAN alone"] = {level: hd for level in gold}
    extra["HDBSCAN alone"] = f"{np.mean(hd < 0):.0%} noise"
    rows = []
    for label, levels in predicted.items():
        for level, labels in gold.items():
            rows.append({"dataset": name, "method": label, "level": level, **scores(labels, levels[level]),
                         "true_k": float(np.unique(labels).size), "note": extra[label],
                         "subcategories": float(n_sub) if label in ("default (best)", "paper's mode") else
                         float("nan")})
    return rows


def peers_table(rows: list[dict]) -> str:
    lines = ["| dataset | method | level | NMI | ARI | clusters found | true | note |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['method']} | {r['level']} | {r['NMI']:.3f} | {r['ARI']:.3f} | "
                     f"{r['k']:.0f} | {r['true_k']:.0f} | {r['note']} |")
    return "\n".join(lines)


def peer_verdicts(rows: list[dict]) -> str:
    """Per open set, fine level: does the default beat BERTopic and k-means on NMI and ARI, and is
    its proposed subcategory count within ±25 % of the truth?"""
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        fine = {r["method"]: r for r in rows if r["dataset"] == dataset and r["level"] == "L2 intent"}
        ours = fine["default (best)"]
        parts = []
        for peer in ("BERTopic", "k-means, true K"):
            if peer in fine:
                p = fine[peer]
                won = ours["NMI"] > p["NMI"] and ours["ARI"] > p["ARI"]
                parts.append(f"{'beats' if won else '**does not beat**'} {peer} "
                             f"(NMI {ours['NMI']:.3f} vs {p['NMI']:.3f}, ARI {ours['ARI']:.3f} vs {p['ARI']:.3f})")
        off = ours["subcategories"] / ours["true_k"] - 1
        parts.append(f"{ours['subcategories']:.0f} subcategories proposed for {ours['true_k']:.0f} intents "
                     f"({off:+.0%}, {'within' if abs(off) <= 0.25 else '**outside**'} ±25 %)")
        lines.append(f"- {dataset}: default " + "; ".join(parts) + ".")
    return "\n".join(lines)
