"""The pipeline's cluster stage: pick the week's ontology version, then cluster the week.

The ontology is the newest reviewed version under ``<root>/_registry/ontology/``
(``v<N>.yaml``, written by ``tools`` when approved tools change it); else the file
named by ``cluster.ontology``; else, for a warehouse's first week, one proposed from
that week's signals without a model (``--backend data``) and saved as ``v1.yaml``,
so every later week is assigned against the same, reviewable version.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from jobs.common.errors import InputError

ONTOLOGY_DIR = Path("_registry") / "ontology"
log = logging.getLogger("intentmine")


def ontology_versions(root: Path | str) -> list[Path]:
    """The registry's ontology files, oldest version first (v2 before v10)."""
    found = [(int(m[1]), p) for p in (Path(root) / ONTOLOGY_DIR).glob("v*.yaml")
             if (m := re.fullmatch(r"v(\d+)\.yaml", p.name))]
    return [p for _, p in sorted(found)]


def ontology_for_week(root: Path, week: str, settings) -> Path:
    """The ontology file this week is assigned against (proposing the first one if needed)."""
    versions = ontology_versions(root)
    if versions:
        return versions[-1]
    if settings.cluster.ontology:
        path = Path(settings.cluster.ontology)
        if not path.is_file():
            raise InputError(f"cluster.ontology {path}: no such ontology file")
        return path
    from jobs.cluster.run import propose

    out = Path(root) / ONTOLOGY_DIR / "v1.yaml"
    counts = propose(out, settings, backend="data", root=root, week=week)
    log.info("cluster %s: no ontology yet; proposed v1 from the week's signals (%s categories, "
             "%s subcategories) at %s", week, counts["categories"], counts["subcategories"], out)
    return out


def run_cluster(logs: Path, root: Path, week: str, settings) -> dict:
    """Stage 6 for the pipeline: cluster the week's signals against the current ontology."""
    from jobs.cluster.run import cluster_week

    ontology = ontology_for_week(Path(root), week, settings)
    counts = cluster_week(Path(root), week, ontology, settings)
    return {"ontology": str(ontology), **counts}
