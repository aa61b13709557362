"""The registry under <root>/_registry: one loader for the ontology series (old names too),
validated both ways, and the tool registry as a model that reads files written before it."""

import json

import pytest
import yaml
from pydantic import ValidationError

from clustering.ontology import Ontology, dump_ontology
from core.errors import InputError
from jobs.registry import ontology as series
from jobs.registry import tools as reg


def onto(version: int, subs: list[str]) -> Ontology:
    return Ontology.model_validate({"name": "visual-search-tools", "version": version, "categories": [
        {"name": "search condition", "keywords": ["condition"],
         "subcategories": [{"name": s, "keywords": s.split()} for s in subs]}]})


def test_series_written_before_the_change_reads_with_new_versions(tmp_path):
    folder = series.folder(tmp_path)
    dump_ontology(onto(1, ["colour condition"]), folder / "v1.yaml")  # the cluster stage's old name
    dump_ontology(onto(2, ["colour condition", "brand condition"]), folder / "v0002.yaml")  # the tools stage's
    (folder / "v0002.diff").write_text("old diff")
    path = series.write(tmp_path, onto(3, ["colour condition", "brand condition", "price band"]),
                        series.latest(tmp_path), "v0002.yaml")
    assert path.name == "v0003.yaml"
    assert [(v, p.name) for v, p in series.versions(tmp_path)] == [(1, "v1.yaml"), (2, "v0002.yaml"),
                                                                    (3, "v0003.yaml")]
    assert series.latest(tmp_path).categories[0].subcategories[-1].name == "price band"
    diff = path.with_suffix(".diff").read_text()
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    removed = [line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    assert added == ["+version: 3", "+  - name: price band", "+    keywords: [price, band]"]
    assert removed == ["-version: 2"]


def test_every_version_is_validated_when_written_and_read(tmp_path):
    bad = onto(1, ["colour condition"]).model_dump()
    bad["categories"][0]["subcategories"].append({"name": "colour condition", "keywords": ["x"]})
    with pytest.raises(ValidationError, match="duplicate subcategory"):
        series.write(tmp_path, bad)
    assert series.versions(tmp_path) == []  # nothing half-written
    series.folder(tmp_path).mkdir(parents=True)
    (series.folder(tmp_path) / "v0004.yaml").write_text(yaml.safe_dump({"name": "x", "version": 4,
                                                                       "categories": []}))
    with pytest.raises(InputError, match=r"v0004.yaml: key 'categories'"):
        series.latest(tmp_path)


def test_tool_registry_reads_an_old_file_and_writes_it_back_the_same(tmp_path):
    tool = {"tool_id": "t-0123456789", "index": 1, "key": "sub::a::b", "kind": "sub", "main_category": "a",
            "subcategory": "b", "aux_cluster": None, "title": "b", "status": "retired", "retired_by": "absence",
            "merged_into": None, "first_week": "2026-W40", "last_week": "2026-W41", "prior_status": "approved"}
    other = dict(tool, tool_id="t-abcdefabcd", index=2, key="aux::3", kind="aux", main_category=None,
                 subcategory=None, aux_cluster=3, title="show more angles", status="proposed", retired_by=None)
    del other["prior_status"]
    old = {"next_index": 3, "tools": {t["tool_id"]: t for t in (tool, other)},
           "aliases": {"sub::a::b": "t-0123456789", "aux::3": "t-abcdefabcd"},
           "applied_decisions": ["d1"], "skipped_decisions": {"d2": "tool t-x is retired: cannot approve it"}}
    text = json.dumps(old, indent=1, sort_keys=True)
    reg.path(tmp_path).parent.mkdir(parents=True)
    reg.path(tmp_path).write_text(text)
    registry = reg.load(tmp_path)
    assert registry.tools["t-0123456789"].prior_status == "approved" and registry.active_indices() == {
        "t-abcdefabcd": 2}
    reg.save(tmp_path, registry)
    assert reg.path(tmp_path).read_text() == text
    # the tool comes back from absence to its former status; the field leaves the file
    reg.observe(registry, [{"key": "sub::a::b", "kind": "sub", "size": 5, "title": "b"}], "2026-W42", 2)
    assert registry.tools["t-0123456789"].status == "approved"
    reg.save(tmp_path, registry)
    assert "prior_status" not in reg.path(tmp_path).read_text()


def test_a_bad_registry_file_is_one_line(tmp_path):
    reg.path(tmp_path).parent.mkdir(parents=True)
    reg.path(tmp_path).write_text(json.dumps({"next_index": 1, "tools": {"t-1": {"index": "one"}}}))
    with pytest.raises(InputError, match=r"tool registry .*tools.json: tools.t-1.tool_id: Field required"):
        reg.load(tmp_path)
    reg.path(tmp_path).write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        reg.load(tmp_path)
