"""Clustering quality on labelled public data: NMI, ARI and Hungarian accuracy per level.

For each dataset an ontology is proposed from the texts alone (``--backend
data``), then every method variant assigns the texts; the predicted label of a
text is its main category (level 1) or main/sub pair (level 2), its auxiliary
cluster when unassigned, and one shared "noise" label for DBSCAN noise. The
reference is MiniLM + KMeans given the true number of clusters (mean of 3 seeds).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from clustering.embeddings import Encoder
from clustering.ontology import Ontology
from clustering.params import BEST, PAPER, MethodConfig
from clustering.pipeline import ActionClusterer, distinct_actions
from jobs.ontology.propose import propose_from_data

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
IMPROVED = dict(prototype_rounds=3, main_from_subs=True, fallback="capped")
ALPHA0 = dict(alpha_main=0.0, alpha_sub=0.0)
VARIANTS: dict[str, MethodConfig] = {
    "paper": PAPER,
    "+ capped fallback": PAPER.model_copy(update={"fallback": "capped"}),
    "+ HDBSCAN fallback": PAPER.model_copy(update={"fallback": "hdbscan"}),
    "+ keyword expansion": PAPER.model_copy(update={"expand_keywords": True}),
    "+ label prototypes": PAPER.model_copy(update={"prototype_rounds": 3}),
    "+ category from best sub": PAPER.model_copy(update={"main_from_subs": True}),
    "prototypes + sub + capped": PAPER.model_copy(update=IMPROVED),
    "… + keyword expansion": PAPER.model_copy(update={**IMPROVED, "expand_keywords": True}),
    "… with α 0.3/0.3": PAPER.model_copy(update={**IMPROVED, "alpha_main": 0.3, "alpha_sub": 0.3}),
    "… with α 0/0": PAPER.model_copy(update={**IMPROVED, "alpha_main": 0.0, "alpha_sub": 0.0}),
    "… with α 0.3/0.3 + expansion": PAPER.model_copy(update={**IMPROVED, "alpha_main": 0.3, "alpha_sub": 0.3,
                                                             "expand_keywords": True}),
    "… with α 0/0 + expansion": PAPER.model_copy(update={**IMPROVED, "alpha_main": 0.0, "alpha_sub": 0.0,
                                                         "expand_keywords": True}),
    "… with α 0/0, 10 rounds": PAPER.model_copy(update={**IMPROVED, **ALPHA0, "prototype_rounds": 10}),
    "… with α 0/0, absorb ≥ 0.3": PAPER.model_copy(update={**IMPROVED, **ALPHA0, "absorb_tau": 0.3}),
    "… with α 0/0, absorb ≥ 0.2": PAPER.model_copy(update={**IMPROVED, **ALPHA0, "absorb_tau": 0.2}),
    "… with α 0/0, 10 rounds, absorb ≥ 0.2": PAPER.model_copy(update={**IMPROVED, **ALPHA0, "prototype_rounds": 10,
                                                                      "absorb_tau": 0.2}),
}


def datasets() -> dict[str, tuple[list[str], dict[str, np.ndarray]]]:
    """name -> (texts, {level: gold labels}); HWU64 all 11,036 rows, BANKING77 test split."""
    hwu = pd.read_csv(DATA / "hwu64" / "hwu64_10fold_all.csv")
    bank = pd.read_csv(DATA / "banking77" / "test.csv")
    return {
        "HWU64": (hwu["text"].tolist(), {"L1 scenario": hwu["scenario"].to_numpy(),
                                         "L2 intent": hwu["intent"].to_numpy()}),
        "BANKING77": (bank["text"].tolist(), {"L2 intent": bank["category"].to_numpy()}),
    }


def synthetic(n: int = 5_000) -> tuple[list[str], dict[str, np.ndarray], Ontology]:
    """Generated visual-search actions with their planted intents, and the hand-written ontology."""
    from cluster_phrases import INTENTS, distinct_phrases, ontology

    texts, intents = distinct_phrases(n, seed=11)
    main = np.array([INTENTS[i][0] for i in intents])
    return texts, {"L1 scenario": main, "L2 intent": np.array(intents)}, Ontology.model_validate(ontology())


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


def kmeans_reference(X: np.ndarray, gold: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    out = {}
    for level, labels in gold.items():
        k = np.unique(labels).size
        runs = [scores(labels, KMeans(k, n_init=10, random_state=seed).fit_predict(X)) for seed in range(3)]
        out[level] = {m: float(np.mean([r[m] for r in runs])) for m in runs[0]}
    return out


def evaluate(name: str, texts: list[str], gold: dict[str, np.ndarray], encoder: Encoder,
             ontology: Ontology | None = None) -> list[dict]:
    """Rows of (dataset, method, level, NMI, ARI, ACC, k, seconds, assigned share).

    Without ``ontology`` one is proposed from the texts (``--backend data``).
    """
    rows = []
    started = time.perf_counter()
    given = ontology is not None
    ontology = ontology or propose_from_data(texts, encoder)
    propose_s = time.perf_counter() - started
    n_sub = sum(len(c.subcategories) for c in ontology.categories)
    for label, config in {**VARIANTS, "best (preset)": BEST}.items():
        started = time.perf_counter()
        clusterer = ActionClusterer(encoder, config)
        frame = clusterer.run(texts, ontology)
        seconds = time.perf_counter() - started
        levels = predicted_levels(frame)
        for level, labels in gold.items():
            rows.append({"dataset": name, "method": label, "level": level, **scores(labels, levels[level]),
                         "seconds": seconds, "assigned": frame["main_category"].notna().mean()})
    distinct = distinct_actions(texts)
    X = encoder.encode(distinct.texts)[distinct.row_code]
    for level, result in kmeans_reference(X, gold).items():
        rows.append({"dataset": name, "method": "MiniLM + KMeans (true k)", "level": level, **result,
                     "seconds": float("nan"), "assigned": float("nan")})
    for row in rows:
        row["ontology"] = (f"{len(ontology.categories)} main / {n_sub} sub, "
                           + ("hand-written" if given else f"proposed in {propose_s:.0f}s"))
    return rows


def quality_table(rows: list[dict]) -> str:
    lines = ["| dataset | method | level | NMI | ARI | ACC | clusters | assigned |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        assigned = "" if np.isnan(r["assigned"]) else f"{r['assigned']:.0%}"
        lines.append(f"| {r['dataset']} | {r['method']} | {r['level']} | {r['NMI']:.3f} | {r['ARI']:.3f} | "
                     f"{r['ACC']:.3f} | {r['k']:.0f} | {assigned} |")
    return "\n".join(lines)


def verdicts(rows: list[dict]) -> str:
    """One line per dataset and level: paper, best and the KMeans reference NMI."""
    lines = []
    for (dataset, level) in dict.fromkeys((r["dataset"], r["level"]) for r in rows):
        nmi = {r["method"]: r["NMI"] for r in rows if r["dataset"] == dataset and r["level"] == level}
        best, ref = nmi["best (preset)"], nmi["MiniLM + KMeans (true k)"]
        lines.append(f"- {dataset} {level}: NMI paper {nmi['paper']:.3f} → best {best:.3f}; "
                     f"MiniLM + KMeans with the true k {ref:.3f} — "
                     + ("**beaten without being told k**" if best > ref else f"**not beaten** ({best - ref:+.3f})"))
    return "\n".join(lines)


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
    ontology = propose_ontology(texts, encoder)
    propose_s = time.perf_counter() - started
    n_sub = sum(len(c.subcategories) for c in ontology.categories)
    predicted: dict[str, dict[str, np.ndarray]] = {}
    extra: dict[str, str] = {}
    for label, config in (("default (best)", BEST), ("paper's mode", PAPER)):
        levels = predicted_levels(ActionClusterer(encoder, config).run(texts, ontology))
        predicted[label] = levels
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
