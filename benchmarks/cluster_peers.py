"""Peers of the default on the same rows and the same MiniLM embeddings: BERTopic, k-means
given the true K, HDBSCAN alone.

BERTopic runs in its own virtual environment (``.venv-bench``, the ``bench`` extra:
``python -m venv .venv-bench && .venv-bench/bin/pip install bertopic umap-learn hdbscan``)
and is fed the embeddings saved to ``.npy`` by the main environment, so every method sees
identical vectors. Without that environment BERTopic is skipped with a printed note.

    .venv-bench/bin/python benchmarks/cluster_peers.py bertopic TEXTS.json VECTORS.npy OUT.npy
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

BENCH_PYTHON = Path(__file__).resolve().parent.parent / ".venv-bench" / "bin" / "python"
SEED = 42


def bertopic_labels(texts: list[str], X: np.ndarray, work: Path) -> np.ndarray | None:
    """BERTopic's topic per row (outliers −1), UMAP + HDBSCAN defaults with a fixed UMAP seed."""
    if not BENCH_PYTHON.exists():
        print(f"note: {BENCH_PYTHON} is absent, so BERTopic is skipped "
              "(create it and install the `bench` extra to compare)", flush=True)
        return None
    (work / "peer-texts.json").write_text(json.dumps(texts))
    np.save(work / "peer-vectors.npy", X.astype(np.float32))
    proc = subprocess.run([str(BENCH_PYTHON), __file__, "bertopic", str(work / "peer-texts.json"),
                           str(work / "peer-vectors.npy"), str(work / "peer-labels.npy")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"BERTopic failed:\n{proc.stderr[-2000:]}")
    return np.load(work / "peer-labels.npy")


def kmeans_labels(X: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=10, random_state=seed).fit_predict(X)


def hdbscan_labels(X: np.ndarray) -> np.ndarray:
    """scikit-learn's HDBSCAN alone on the unit embeddings (Euclidean = monotone in cosine)."""
    from sklearn.cluster import HDBSCAN

    return HDBSCAN(min_cluster_size=5).fit_predict(X)


def _run_bertopic(texts_path: str, vectors_path: str, out_path: str) -> None:
    from bertopic import BERTopic
    from umap import UMAP

    texts = json.loads(Path(texts_path).read_text())
    X = np.load(vectors_path)
    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=SEED)
    topics, _ = BERTopic(umap_model=umap).fit_transform(texts, embeddings=X)
    np.save(out_path, np.asarray(topics))


if __name__ == "__main__":
    if sys.argv[1] == "bertopic":
        _run_bertopic(*sys.argv[2:5])
