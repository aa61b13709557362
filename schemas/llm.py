"""Response models of the model stages: what the VLM and the reasoning LLM must return.

Both the vLLM backend (as ``response_format`` JSON schemas) and the ``rules`` analyst
fill these models, so every downstream step reads one shape whatever produced it.
Lengths are bounded: a guided decoder then always closes the JSON within
``max_tokens``, and a runaway answer cannot flood the tables.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Short = Annotated[str, Field(min_length=1, max_length=160)]
Text = Annotated[str, Field(min_length=1, max_length=600)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResultDifference(_Strict):
    """One way the retrieved products differ from the query item."""

    aspect: Literal["category", "appearance", "colour", "price", "brand", "specification", "quality"]
    detail: Short


class VlmAnalysis(_Strict):
    """Stage 3: what the photo shows, how the results differ, first suggestions."""

    query_description: Short
    differences: Annotated[list[ResultDifference], Field(max_length=6)]
    user_suggestions: Annotated[list[Short], Field(max_length=4)]
    platform_suggestions: Annotated[list[Short], Field(max_length=4)]


class ActionInfo(_Strict):
    """One ``Action -> Info`` signal: an operation and what it needs."""

    action: Annotated[str, Field(min_length=1, max_length=80)]
    info: Annotated[str, Field(max_length=80)]


class LlmReasoning(_Strict):
    """Stage 4: a reasoning trace, its compressed form, and the ordered signals."""

    reasoning: Text
    compressed_reasoning: Short
    signals: Annotated[list[ActionInfo], Field(min_length=1, max_length=5)]


class CompressedReasoning(_Strict):
    """A reasoning trace shortened for the planner's training data."""

    compressed_reasoning: Short


# A label starts with a letter or digit (any script) and holds words, not markup: the pattern
# goes into the JSON schema, so guided decoding cannot produce a keyword such as "<=".
LABEL_PATTERN = r"^[^\W_][\w .'&/+-]*$"


class OntologyLabel(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=60, pattern=LABEL_PATTERN)]
    keywords: Annotated[list[Annotated[str, Field(min_length=1, max_length=40, pattern=LABEL_PATTERN)]],
                        Field(min_length=1, max_length=12)]


class OntologyCategory(OntologyLabel):
    subcategories: Annotated[list[OntologyLabel], Field(max_length=8)]


class OntologyProposal(_Strict):
    """Categories, subcategories and keyword lists proposed from a sample of actions."""

    categories: Annotated[list[OntologyCategory], Field(min_length=1, max_length=10)]


RESPONSE_MODELS: dict[str, type[BaseModel]] = {
    m.__name__: m for m in (VlmAnalysis, LlmReasoning, CompressedReasoning, OntologyProposal)
}
