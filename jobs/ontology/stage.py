"""The ontology a week is assigned against, and ``ontology propose`` to a file.

The week's ontology is the version its committed assignments were made against, so a
rerun of a week gives the same outputs whatever versions came later; for a week not yet
clustered, the newest version of the registry's series (``<root>/_registry/ontology/``,
:mod:`jobs.registry.ontology`); else the file named by
``cluster.ontology``; else, for a warehouse's first week, one proposed from that week's
signals without a model (``data`` backend) and saved as version 1, so every later week
is assigned against the same, reviewable version.
"""

from __future__ import annotations

import logging
from pathlib import Path

from clustering.ontology import dump_ontology
from core.errors import InputError
from jobs.common.actions import read_actions
from jobs.common.storage import read_table, week_bounds
from jobs.ontology.propose import propose
from jobs.registry import ontology as series

log = logging.getLogger("intentmine")


def week_actions(root: Path, week: str) -> tuple[list[str], list[str]]:
    """The actions of a week's signals (at least one) and their Infos, same order."""
    week_bounds(week)
    signals = read_table(root, "signals", week, columns=["action", "info"])
    if not signals.num_rows:
        raise InputError(f"table signals, week {week}: no actions to propose an ontology from")
    return signals.column("action").to_pylist(), signals.column("info").to_pylist()


def week_version(root: Path, week: str):
    """The series file of the version the week's committed assignments used (None: not clustered
    yet, or that version is no longer in the series)."""
    try:
        used = read_table(root, "assignments", week, columns=["ontology_version"]).column("ontology_version")
    except InputError:
        return None
    if len(used) == 0 or used[0].as_py() is None:
        return None
    return dict(series.versions(root)).get(int(used[0].as_py()))


def ontology_for_week(root: Path, week: str, settings) -> Path:
    """The ontology file this week is assigned against (proposing version 1 if needed)."""
    pinned = week_version(root, week)
    if pinned is not None:
        return pinned
    newest = series.latest_path(root)
    if newest is not None:
        return newest
    if settings.cluster.ontology:
        path = Path(settings.cluster.ontology)
        if not path.is_file():
            raise InputError(f"cluster.ontology {path}: no such ontology file")
        return path
    actions, infos = week_actions(root, week)
    ontology = propose(actions, settings, "data", root, infos)
    path = series.write(root, ontology)
    log.info("cluster %s: no ontology yet; proposed v%d from the week's signals (%d categories, "
             "%d subcategories) at %s", week, ontology.version, len(ontology.categories),
             sum(len(c.subcategories) for c in ontology.categories), path)
    return path


def propose_to_file(out: Path, settings, backend: str = "data", actions: Path | None = None,
                    root: Path | None = None, week: str | None = None) -> dict:
    """``ontology propose``: from an actions file or a week's signals, write the ontology YAML."""
    rows, infos = (read_actions(actions), None) if actions is not None else week_actions(root, week)
    ontology = propose(rows, settings, backend, root, infos)
    dump_ontology(ontology, out)
    return {"out": str(out), "categories": len(ontology.categories),
            "subcategories": sum(len(c.subcategories) for c in ontology.categories)}
