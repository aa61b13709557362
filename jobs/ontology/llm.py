"""The ``vllm`` backend of the ontology proposal: the LLM proposes categories, subcategories
and keyword lists from a sample of the week's actions (structured output, one request).

Returns the ontology file's structure, tidied to its rules, for
:func:`jobs.ontology.propose.propose` to validate.
"""

from __future__ import annotations

import asyncio
import random

from clustering.ontology import OTHER
from core.errors import InputError
from jobs.analyse.checkpoint import request_key
from jobs.analyse.client import ModelClient, ModelRequest
from prompts.loader import load_prompt
from schemas.llm import OntologyProposal


def sample_actions(actions: list[str], limit: int, seed: int) -> list[str]:
    """Distinct actions, a seeded sample of at most ``limit`` in first-seen order."""
    distinct = list(dict.fromkeys(a.strip() for a in actions if a and a.strip()))
    if len(distinct) <= limit:
        return distinct
    keep = set(random.Random(seed).sample(range(len(distinct)), limit))
    return [a for i, a in enumerate(distinct) if i in keep]


def propose_ontology(actions: list[str], settings, name: str = "visual-search-tools", version: int = 1,
                     limit: int = 300) -> dict:
    """Ask the reasoning LLM (``models.llm_url``/``llm_model``) for an ontology of ``actions``."""
    chosen = sample_actions(actions, limit, settings.models.seed)
    if not chosen:
        raise InputError("ontology propose: no actions to propose an ontology from")
    template = load_prompt("ontology_proposal")
    values = {"n_actions": len(chosen), "actions": "\n".join(chosen)}
    request = ModelRequest(request_key(template.key, template.digest(), settings.models.llm_model, values),
                           template.render({}, values), OntologyProposal)

    async def ask() -> dict:
        client = ModelClient(settings.models.llm_url, settings.models.llm_model, settings.models, concurrency=1)
        try:
            return await client.complete(request)
        finally:
            await client.close()

    outcome = asyncio.run(ask())
    if outcome["status"] != "ok":
        raise InputError(f"ontology propose: the LLM at {settings.models.llm_url} gave no valid proposal "
                         f"({outcome['error']}); raw answer starts {outcome['raw'][:80]!r}")
    return checked({"name": name, "version": version, "categories": outcome["output"]["categories"]})


def _tidy(labels: list[dict], reserved: set[str]) -> list[dict]:
    """Drop keywords without letters or digits, labels left without keywords, and repeated names."""
    out, seen = [], set(reserved)
    for label in labels:
        keywords = [k for k in label["keywords"] if any(ch.isalnum() for ch in k)]
        if keywords and label["name"].strip() and label["name"].strip() not in seen:
            seen.add(label["name"].strip())
            out.append({**label, "keywords": keywords})
    return out


def checked(proposal: dict) -> dict:
    """The proposal tidied to the ontology file's rules (unique names, keywords with letters or
    digits, "other" reserved for the leftover bucket), since a model breaks them at times."""
    categories = _tidy(proposal["categories"], set())
    for c in categories:
        c["subcategories"] = _tidy(c.get("subcategories", []), {OTHER})
    if not categories:
        raise InputError("ontology propose: the LLM's proposal has no usable category")
    return {**proposal, "categories": categories}
