"""The embedding :class:`~clustering.embeddings.Encoder` a stage uses, built from settings.

One encoder per configuration: the configured model (the packaged all-MiniLM-L6-v2 by
default) with its disk cache under ``<root>/_cache/embeddings`` unless
``cluster.embedding_cache_dir`` says otherwise (none for a run without a root).
"""

from __future__ import annotations

from pathlib import Path

from clustering.embeddings import Encoder
from jobs.common.storage import cache_dir


def make_encoder(settings, root: Path | str | None = None) -> Encoder:
    cs = settings.cluster
    cache = cs.embedding_cache_dir or (cache_dir(root, "embeddings") if root else None)
    return Encoder(cs.embedding_model, cache, cs.batch_size)
