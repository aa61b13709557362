"""The rules analyst fills the model schemas, deterministically, labelled as rules."""

from __future__ import annotations

from jobs.analyse import rules_backend
from jobs.analyse.expert_rules import load_rules
from schemas.llm import LlmReasoning, VlmAnalysis
from tests_analyse_helpers import features, product


def test_outputs_validate_against_the_response_models():
    f = features(items=[product(i, brand=f"B{i}", sim=0.6) for i in range(6)])
    vlm, llm = rules_backend.analyse(f, load_rules(), "q1", seed=7)
    VlmAnalysis.model_validate(vlm.model_dump())
    LlmReasoning.model_validate(llm.model_dump())
    assert [s.action for s in llm.signals]


def test_same_query_same_words_and_variation_across_queries():
    rules = load_rules()
    f = features(items=[product(i, brand=f"B{i}", sim=0.6) for i in range(6)])
    first = [rules_backend.analyse(f, rules, f"q{i}", seed=7)[1] for i in range(30)]
    again = [rules_backend.analyse(f, rules, f"q{i}", seed=7)[1] for i in range(30)]
    assert first == again
    assert len({s.signals[0].action for s in first}) > 1  # natural variation in phrasing
    assert len({s.reasoning for s in first}) > 1


def test_phrasing_templates_pick_alternatives_and_keep_a_canonical_wording():
    import random

    import pytest

    from jobs.analyse.expert_rules import Rule, phrasings

    rule = Rule(id="r", text="t", info="i", action=["[add|apply] a colour [filter|condition][| now]", "plain words"])
    assert rule.canonical_action == "add a colour filter"  # first template, first alternatives, no double spaces
    assert phrasings(rule.action[0]) == 2 * 2 * 2 and phrasings("plain words") == 1
    rng = random.Random(3)
    seen = {rule.phrase_action(rng) for _ in range(300)}
    assert seen == {f"{v} a colour {o}{t}" for v in ("add", "apply") for o in ("filter", "condition")
                    for t in ("", " now")} | {"plain words"}
    with pytest.raises(ValueError, match="unbalanced"):
        Rule(id="r", text="t", info="i", action=["add [a|the colour filter"])
    with pytest.raises(ValueError, match="empty"):
        Rule(id="r", text="t", info="i", action=["[|never]"])


def test_the_packaged_rules_phrase_each_action_in_many_ways():
    from jobs.analyse.expert_rules import phrasings

    rules = load_rules()
    for rule in rules.rules:  # the fallback's fixed "no rule fired" is never a signal
        assert sum(phrasings(t) for t in rule.action) >= 30, rule.id
    for line in rules.prompt_text().splitlines():  # the prompt lists canonical wordings only
        assert not {"[", "|"} & set(line.split("Signal:")[1]), line
    f = features(items=[product(i, brand=f"B{i}", sim=0.6) for i in range(6)])
    actions = [s.action for i in range(200) for s in rules_backend.analyse(f, rules, f"q{i}", seed=7)[1].signals]
    assert len(set(actions)) >= 40
