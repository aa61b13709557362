"""The ontology series: ``<root>/_registry/ontology/v<NNNN>.yaml``, each with its diff.

One naming scheme (``v0001.yaml``, the version in the file equals the number in its
name); series written before it (``v1.yaml`` by the cluster stage, ``v0002.yaml`` by the
tools stage) read the same way, since a version is the number in the name. Every
version is validated through :class:`clustering.ontology.Ontology` when it is written
and when it is read; ``v<NNNN>.diff`` beside it is the unified diff to the one before.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from clustering.ontology import Ontology, dump_text, load_ontology
from jobs.common import fs
from jobs.common.storage import registry_dir, write_file

VERSION_FILE = re.compile(r"v(\d+)\.yaml")


def folder(root: Path | str) -> Path | str:
    return fs.join(registry_dir(root), "ontology")


def versions(root: Path | str) -> list[tuple[int, Path]]:
    """(version, file) of every ontology in the series, oldest first (v2 before v10)."""
    place = folder(root)
    found = [(int(m[1]), fs.join(place, n)) for n in fs.names(place) if (m := VERSION_FILE.fullmatch(n))]
    return sorted(found)


def latest_path(root: Path | str) -> Path | None:
    """The newest version's file, or None for an empty series."""
    found = versions(root)
    return found[-1][1] if found else None


def read(path: Path | str) -> Ontology:
    """One version (or any ontology file), validated; a bad file is a one-line InputError."""
    with fs.local_copy(path) as local:  # the ontology reader takes a file
        return load_ontology(local)


def latest(root: Path | str) -> Ontology | None:
    path = latest_path(root)
    return read(path) if path is not None else None


def write(root: Path | str, ontology: Ontology | dict, before: Ontology | None = None,
          source: str | None = None) -> Path:
    """Validate and add ``ontology`` as version ``ontology.version``, with its diff to ``before``.

    ``source`` names the file ``before`` came from in the diff header.
    """
    ontology = ontology if isinstance(ontology, Ontology) else Ontology.model_validate(ontology)
    path = fs.join(folder(root), f"v{ontology.version:04d}.yaml")
    old = dump_text(before).splitlines(keepends=True) if before is not None else []
    new = dump_text(ontology)
    diff = "".join(difflib.unified_diff(old, new.splitlines(keepends=True), source or "(empty)", str(path)))
    write_file(fs.join(folder(root), f"v{ontology.version:04d}.diff"), diff.encode())
    write_file(path, new.encode())
    return path
