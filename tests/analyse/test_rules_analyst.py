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
