"""Approved tools feed the next ontology version (SPEC "Ontology file").

Base: the newest ``<root>/_registry/ontology/v*.yaml``, else ``tools.ontology`` from
settings (the file clustering used), else an empty ontology. Approved tools change it:

- a subcategory tool is added under its main category (created when missing), or
  renamed when a reviewer renamed it;
- an auxiliary-cluster tool becomes a subcategory of the main category
  ``tools.promoted_category``, and its new group key is aliased to the tool, so the
  promotion does not make a new tool next week;
- a tool merged into another leaves the ontology; its keywords join the survivor's.

Keywords of a new label: the words of its title, then the most frequent content words
of its example actions. When anything changed, ``v<N+1>.yaml`` is written with a
unified diff ``v<N+1>.diff`` beside it; a rerun with nothing new writes nothing.
"""

from __future__ import annotations

import copy
import difflib
import logging
import os
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import yaml

from jobs.tools.groups import normalise, sub_key
from jobs.tools.registry import resolve

FOLDER = Path("_registry") / "ontology"
KEYWORDS = 6
log = logging.getLogger("intentmine")


def words(text: str) -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [w for w in re.findall(r"\w+", text.lower()) if len(w) > 2 and w not in ENGLISH_STOP_WORDS]


def keywords_for(title: str, examples: list[str]) -> list[str]:
    counts = Counter(w for e in examples for w in words(e))
    ranked = list(dict.fromkeys(words(title) + [w for w, _ in counts.most_common()]))
    return ranked[:KEYWORDS] or [normalise(title)]


def base_ontology(root: Path, fallback: str) -> tuple[dict, Path | None]:
    from jobs.cluster.stage import ontology_versions

    versions = ontology_versions(root)
    path = versions[-1] if versions else (Path(fallback) if fallback else None)
    if path is None or not path.exists():
        return {"name": "visual-search-tools", "version": 0, "categories": []}, None
    return yaml.safe_load(path.read_text(encoding="utf-8")), path


def _find(items: list[dict], name: str) -> dict | None:
    return next((i for i in items if normalise(i["name"]) == normalise(name)), None)


def _category(onto: dict, name: str, keywords: list[str]) -> dict:
    found = _find(onto["categories"], name)
    if found is None:
        found = {"name": name, "keywords": keywords or words(name) or [normalise(name)], "subcategories": []}
        onto["categories"].append(found)
    found.setdefault("subcategories", [])
    return found


def apply_tools(onto: dict, registry: dict, examples: dict[str, list[str]], promoted: str) -> dict:
    """A new ontology dict with the approved and merged tools applied (input untouched)."""
    onto = copy.deepcopy(onto)
    tools = sorted(registry["tools"].values(), key=lambda t: t["index"])
    for tool in tools:
        kw = keywords_for(tool["title"], examples.get(tool["tool_id"], [])) if tool["status"] == "approved" else []
        if tool["status"] == "approved" and tool["kind"] == "sub":
            cat = _category(onto, tool["main_category"], words(tool["main_category"]))
            sub = _find(cat["subcategories"], tool["subcategory"]) or _find(cat["subcategories"], tool["title"])
            if sub is None:
                cat["subcategories"].append({"name": tool["title"], "keywords": kw})
            else:
                sub["name"] = tool["title"]
        elif tool["status"] == "approved" and tool["kind"] == "aux":
            cat = _category(onto, promoted, kw)
            if _find(cat["subcategories"], tool["title"]) is None:
                cat["subcategories"].append({"name": tool["title"], "keywords": kw})
                cat["keywords"] = list(dict.fromkeys(cat["keywords"] + kw))
            registry["aliases"].setdefault(sub_key(promoted, tool["title"]), tool["tool_id"])
        elif tool.get("merged_into") and tool["kind"] == "sub":
            _merge(onto, tool, registry["tools"][resolve(registry, tool["key"])])
    return onto


def _merge(onto: dict, tool: dict, survivor: dict) -> None:
    cat = _find(onto["categories"], tool["main_category"] or "")
    gone = _find(cat["subcategories"], tool["title"]) if cat else None
    if gone is None:
        return
    cat["subcategories"].remove(gone)
    target_cat = _find(onto["categories"], survivor.get("main_category") or "")
    target = None
    for name in (survivor["title"], survivor.get("subcategory")):
        target = target or (_find(target_cat["subcategories"], name) if target_cat and name else None)
    if target is not None:
        target["keywords"] = list(dict.fromkeys(target["keywords"] + gone["keywords"]))


def dump(onto: dict) -> str:
    return yaml.safe_dump(onto, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def next_ontology(root: Path, registry: dict, tools: pa.Table, fallback: str, promoted: str) -> Path | None:
    """Write the next ontology version when approved tools change it; its path, else None."""
    base, source = base_ontology(root, fallback)
    examples = dict(zip(tools.column("tool_id").to_pylist(), tools.column("example_actions").to_pylist()))
    proposal = apply_tools(base, registry, examples, promoted)
    if dump(proposal) == dump(base):
        return None
    proposal["version"] = int(base.get("version", 0)) + 1
    folder = Path(root) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"v{proposal['version']:04d}.yaml"
    before, after = dump(base).splitlines(keepends=True), dump(proposal).splitlines(keepends=True)
    diff = "".join(difflib.unified_diff(before, after, str(source or "(empty)"), str(path)))
    path.with_suffix(".diff").write_text(diff, encoding="utf-8")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(dump(proposal), encoding="utf-8")
    os.replace(tmp, path)
    log.info("ontology v%d proposed from approved tools:\n%s", proposal["version"], diff)
    return path
