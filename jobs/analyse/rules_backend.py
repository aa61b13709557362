"""The ``rules`` analyst: the embedded default when no GPU serves a model.

It fills the same :class:`VlmAnalysis` and :class:`LlmReasoning` models a model
would, from measured features and the expert rules, so every later stage runs
unchanged. Phrasing varies naturally (an action's wording, the sentence frames) but
is seeded by the query id, so a rerun writes the same rows. Every row it produces is
labelled ``backend=rules``, ``model=rules-v<rules version>``.
"""

from __future__ import annotations

import hashlib
import random

from jobs.analyse.expert_rules import ExpertRules, Rule
from schemas.llm import ActionInfo, LlmReasoning, ResultDifference, VlmAnalysis

BACKEND = "rules"
_DESCRIBE = ("a {query_colour} {subcategory}", "what looks like a {query_colour} {subcategory}",
             "a {subcategory} in {query_colour}")
_OPENERS = ("The results", "Most retrieved products", "The returned items")
_REASON = ("Rule {id} applies: {text}", "{text} (rule {id})", "Evidence for {id}: {text}")
_ASPECT = {"colour_mismatch": "colour", "low_price_band": "price", "mixed_categories": "category",
           "brand_disagreement": "brand", "spec_mismatch": "specification",
           "jewellery_material_price": "price", "style_mismatch": "appearance",
           "unclear_photo": "quality", "weak_similarity": "appearance"}


def model_name(rules: ExpertRules) -> str:
    return f"rules-v{rules.version}"


def _rng(seed: int, query_id: str, salt: str = "") -> random.Random:
    digest = hashlib.sha256(f"{seed}:{query_id}:{salt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _difference(rule: Rule, features: dict) -> ResultDifference | None:
    aspect = _ASPECT.get(rule.id)
    if aspect is None:
        return None
    return ResultDifference(aspect=aspect, detail=_clip(rule.text.split(";")[0], 160))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def analyse_vlm(features: dict, fired: list[Rule], query_id: str, seed: int) -> VlmAnalysis:
    """What a VLM would say, from the pixel features and the rules that fired."""
    rng = _rng(seed, query_id, "vlm")
    what = rng.choice(_DESCRIBE).format(**features)
    quality = features.get("photo_problem", "none")
    description = f"The photo shows {what}" + ("" if quality == "none" else f"; the photo is {quality}") + "."
    differences = [d for d in (_difference(r, features) for r in fired) if d][:6]
    user = ["retake the photo in good light"] if quality != "none" else []
    if any(r.id == "colour_mismatch" for r in fired):
        user.append(f"add the word '{features['query_colour']}' to the search")
    platform = [_clip(f"{r.canonical_action}: {r.info_for(features)}", 160) for r in fired if r.id != "no_rule"][:4]
    return VlmAnalysis(query_description=_clip(description, 160), differences=differences,
                       user_suggestions=user[:4], platform_suggestions=platform)


def analyse_llm(features: dict, fired: list[Rule], query_id: str, seed: int) -> LlmReasoning:
    """Reasoning and ordered ``Action -> Info`` signals from the rules that fired."""
    rng = _rng(seed, query_id, "llm")
    opener = rng.choice(_OPENERS)
    sentences = [f"{opener} are {features['subcategory']} items with a median price of "
                 f"{features['price_median']} and a top similarity of {features['similarity_top']}."]
    sentences += [rng.choice(_REASON).format(id=r.id, text=r.text) for r in fired[:4]]
    signals = [ActionInfo(action=r.phrase_action(rng), info=_clip(r.info_for(features), 80)) for r in fired[:5]]
    compressed = "; ".join(f"{r.id.replace('_', ' ')}" for r in fired[:3])
    return LlmReasoning(reasoning=_clip(" ".join(sentences), 600),
                        compressed_reasoning=_clip(f"{features['subcategory']}: {compressed}", 160),
                        signals=signals)


def analyse(features: dict, rules: ExpertRules, query_id: str, seed: int) -> tuple[VlmAnalysis, LlmReasoning]:
    """Both stages' outputs for one query."""
    fired = rules.fired(features)
    return (analyse_vlm(features, fired, query_id, seed), analyse_llm(features, fired, query_id, seed))
