"""Approved tools feed the next ontology version.

Base: the newest version of the registry's ontology series, else ``tools.ontology``
from settings (the file clustering used), else an empty ontology. Approved tools change it:

- a subcategory tool is added under its main category (created when missing), or
  renamed when a reviewer renamed it;
- an auxiliary-cluster tool becomes a subcategory of the main category
  ``tools.promoted_category``, and its new group key is aliased to the tool, so the
  promotion does not make a new tool next week;
- a tool merged into another keeps its label in the ontology, unchanged: the label
  still collects the same actions, and its group key resolves (in the registry) to the
  survivor, so the survivor holds every action of the merged tool at every later
  clustering. (Removing the label instead, or moving its keywords, scattered those
  actions over whatever label scored next and pulled others into the survivor.)

Keywords of a new label: the words of its title, then the most frequent content words
of its example actions. When anything changed, the next version is written to the
series (validated, with its diff); a rerun with nothing new writes nothing.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa

from clustering.ontology import Ontology, load_ontology
from jobs.common import fs
from jobs.registry import ontology as series
from jobs.registry.tools import ToolRegistry, name_key, sub_key

KEYWORDS = 6
log = logging.getLogger("intentmine")


def words(text: str) -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [w for w in re.findall(r"\w+", text.lower()) if len(w) > 2 and w not in ENGLISH_STOP_WORDS]


def keywords_for(title: str, examples: list[str]) -> list[str]:
    counts = Counter(w for e in examples for w in words(e))
    ranked = list(dict.fromkeys(words(title) + [w for w, _ in counts.most_common()]))
    return ranked[:KEYWORDS] or [name_key(title)]


def base_ontology(root: Path | str, fallback: str) -> tuple[Ontology | None, Path | str | None]:
    """The newest version of the series, else the fallback file, else (None, None)."""
    path = series.latest_path(root)
    if path is not None:
        return series.read(path), path
    if not fallback or not Path(fallback).exists():
        return None, None
    return load_ontology(fallback), Path(fallback)


def _find(items: list[dict], name: str) -> dict | None:
    return next((i for i in items if name_key(i["name"]) == name_key(name)), None)


def _category(onto: dict, name: str, keywords: list[str]) -> dict:
    found = _find(onto["categories"], name)
    if found is None:
        found = {"name": name, "keywords": keywords or words(name) or [name_key(name)], "subcategories": []}
        onto["categories"].append(found)
    found.setdefault("subcategories", [])
    return found


def apply_tools(onto: dict, registry: ToolRegistry, examples: dict[str, list[str]], promoted: str) -> dict:
    """The ontology's content (a dict; the input is not changed) with approved and merged tools applied."""
    onto = {**onto, "categories": [{**c, "subcategories": [dict(s) for s in c.get("subcategories", [])]}
                                   for c in onto["categories"]]}
    for tool in registry.by_index():
        approved = tool.status == "approved"
        kw = keywords_for(tool.title, examples.get(tool.tool_id, [])) if approved else []
        if approved and tool.kind == "sub":
            cat = _category(onto, tool.main_category, words(tool.main_category))
            sub = _find(cat["subcategories"], tool.subcategory) or _find(cat["subcategories"], tool.title)
            if sub is None:
                cat["subcategories"].append({"name": tool.title, "keywords": kw})
            else:
                sub["name"] = tool.title
        elif approved and tool.kind == "aux":
            cat = _category(onto, promoted, kw)
            if _find(cat["subcategories"], tool.title) is None:
                cat["subcategories"].append({"name": tool.title, "keywords": kw})
                cat["keywords"] = list(dict.fromkeys(cat["keywords"] + kw))
            registry.aliases.setdefault(sub_key(promoted, tool.title), tool.tool_id)
    return onto


def next_ontology(root: Path, registry: ToolRegistry, tools: pa.Table, fallback: str, promoted: str) -> Path | None:
    """Write the next ontology version when approved tools change it; its path, else None."""
    base, source = base_ontology(root, fallback)
    start = base.model_dump() if base is not None else {"name": "visual-search-tools", "version": 0,
                                                         "categories": []}
    examples = dict(zip(tools.column("tool_id").to_pylist(), tools.column("example_actions").to_pylist()))
    proposal = apply_tools(start, registry, examples, promoted)
    if proposal == start:
        return None
    proposal["version"] = int(start["version"]) + 1
    path = series.write(root, proposal, base, str(source) if source else None)
    log.info("ontology v%d proposed from approved tools:\n%s", proposal["version"],
             fs.read_text(fs.sibling(path, f"v{proposal['version']:04d}.diff")))
    return path
