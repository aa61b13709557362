"""Prompt templates: strict loading, loud missing variables, static content first."""

from __future__ import annotations

import pytest

from jobs.analyse.expert_rules import load_rules
from prompts.loader import PromptError, PromptTemplate, load_prompt, shared_prefix_share
from schemas.llm import RESPONSE_MODELS

NAMES = ("vlm_analysis", "llm_reasoning", "ontology_proposal", "reasoning_compression")


@pytest.mark.parametrize("name", NAMES)
def test_every_prompt_loads_and_names_its_response_model(name):
    template = load_prompt(name)
    assert template.key == f"{name}/v2"
    assert template.response_model in RESPONSE_MODELS


def test_missing_variable_is_named():
    template = load_prompt("llm_reasoning")
    with pytest.raises(PromptError, match="missing variable 'metadata_table'"):
        template.render_user(vlm_analysis="{}", features="x")


def test_unknown_field_in_yaml_is_rejected(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "v1.yaml").write_text("name: p\nversion: 1\ndescription: d\nresponse_model: VlmAnalysis\n"
                                    "system: s\nuser: u\ntemperature: 3\n")
    with pytest.raises(PromptError, match="temperature"):
        load_prompt("p", folder=tmp_path)


def test_undeclared_variable_in_template_fails():
    template = PromptTemplate(name="x", version=1, description="d", response_model="VlmAnalysis",
                              system="s", user="hello {who}")
    with pytest.raises(PromptError, match="undeclared variable 'who'"):
        template.render_user()


def test_static_content_is_a_shared_prefix():
    template = load_prompt("llm_reasoning")
    rules = load_rules().prompt_text()
    messages = [template.render({"expert_rules": rules},
                                {"vlm_analysis": f"analysis {i}", "features": "f", "metadata_table": "m"})
                for i in range(3)]
    assert messages[0][0] == messages[1][0] and messages[0][0]["role"] == "system"
    assert "[colour_mismatch]" in messages[0][0]["content"]
    assert shared_prefix_share(messages) > 0.5


def test_ontology_proposal_is_tidied_to_the_file_rules():
    from jobs.ontology.llm import checked, sample_actions

    raw = {"name": "o", "version": 1, "categories": [
        {"name": "colour", "keywords": ["colour", "!!"], "subcategories": [
            {"name": "other", "keywords": ["x"]}, {"name": "black", "keywords": ["black"]}]},
        {"name": "colour", "keywords": ["dup"], "subcategories": []},
        {"name": "price", "keywords": ["--"], "subcategories": []}]}
    out = checked(raw)
    assert [c["name"] for c in out["categories"]] == ["colour"]
    assert out["categories"][0]["keywords"] == ["colour"]
    assert [s["name"] for s in out["categories"][0]["subcategories"]] == ["black"]
    assert sample_actions(["a", "b", "a", " "], 10, 7) == ["a", "b"]
    assert len(sample_actions([str(i) for i in range(50)], 5, 7)) == 5


@pytest.mark.parametrize("text, ok", [("colour", True), ("add brand filter", True), ("颜色", True),
                                      ("size 38/39", True), ("<=", False), ("-- x", False), ("_x", False),
                                      (" colour", False), ("a\nb", False)])
def test_ontology_labels_start_with_a_letter_or_digit_and_hold_words(text, ok):
    from pydantic import ValidationError

    from schemas.llm import LABEL_PATTERN, OntologyLabel

    schema = OntologyLabel.model_json_schema()["properties"]  # what guided decoding sees
    assert schema["name"]["pattern"] == schema["keywords"]["items"]["pattern"] == LABEL_PATTERN
    if ok:
        OntologyLabel(name=text, keywords=[text])
    else:
        with pytest.raises(ValidationError):
            OntologyLabel(name="ok", keywords=[text])
