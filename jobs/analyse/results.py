"""One query's analysis outcome, and its rows in the ``analyses`` and ``signals`` tables.

Both backends (and cache hits) produce :class:`QueryResult`; this module alone turns
it into table rows, so provenance (backend, model, prompt name and version, run id)
is written the same way whatever produced the answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from schemas.llm import LlmReasoning

NO_FINDING = "no rule fired"  # the rules analyst's answer when no expert rule fires: never a signal


@dataclass
class StageOutput:
    """One model call's outcome: parsed JSON (``ok``/``cached``) or raw text (``failed``)."""

    status: str  # ok | failed | cached
    output: dict | None = None
    raw: str = ""
    error: str | None = None
    model: str = ""
    backend: str = ""
    prompt_name: str = ""
    prompt_version: int = 1
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None


@dataclass
class QueryResult:
    query_id: str
    main_category: str | None
    vlm: StageOutput
    llm: StageOutput
    extra: dict = field(default_factory=dict)

    def as_cached(self, query_id: str, main_category: str | None) -> "QueryResult":
        """This result reused for a near-duplicate query (status ``cached``, no token cost)."""
        def copy(s: StageOutput) -> StageOutput:
            status = "cached" if s.status == "ok" else s.status
            return StageOutput(status=status, output=s.output, raw=s.raw, error=s.error, model=s.model,
                               backend=s.backend, prompt_name=s.prompt_name, prompt_version=s.prompt_version)
        return QueryResult(query_id, main_category, copy(self.vlm), copy(self.llm))


def analysis_rows(result: QueryResult, run_id: str) -> list[dict]:
    rows = []
    for stage, out in (("vlm", result.vlm), ("llm", result.llm)):
        text = json.dumps(out.output, ensure_ascii=False, sort_keys=True) if out.output is not None else out.raw
        rows.append({"query_id": result.query_id, "stage": stage, "output_json": text, "status": out.status,
                     "error": out.error, "backend": out.backend, "model": out.model,
                     "prompt_name": out.prompt_name, "prompt_version": out.prompt_version,
                     "prompt_tokens": out.prompt_tokens, "completion_tokens": out.completion_tokens,
                     "latency_s": out.latency_s, "run_id": run_id})
    return rows


def signal_rows(result: QueryResult, run_id: str) -> list[dict]:
    """One row per ``Action -> Info`` of a usable reasoning answer, in the reasoner's order."""
    out = result.llm
    if out.status not in ("ok", "cached") or out.output is None:
        return []
    reasoning = LlmReasoning.model_validate(out.output)
    return [{"query_id": result.query_id, "order": i, "action": s.action.strip() or "(empty)",
             "info": s.info, "reasoning": reasoning.compressed_reasoning,
             "main_category": result.main_category, "backend": out.backend, "model": out.model,
             "prompt_name": out.prompt_name, "prompt_version": out.prompt_version, "run_id": run_id}
            for i, s in enumerate(reasoning.signals, start=1) if s.action.strip() != NO_FINDING]


def no_finding(result: QueryResult) -> bool:
    """Whether the reasoning found nothing (its only signal is :data:`NO_FINDING`)."""
    out = result.llm.output if result.llm.status in ("ok", "cached") else None
    return bool(out) and all(s["action"].strip() == NO_FINDING for s in out.get("signals", []))


def result_from_rows(query_id: str, main_category: str | None, rows: list[dict]) -> QueryResult:
    """Rebuild a result from its ``analyses`` rows (a cache hit on an earlier week)."""
    by_stage = {}
    for r in rows:
        ok = r["status"] in ("ok", "cached")
        by_stage[r["stage"]] = StageOutput(
            status=r["status"], output=json.loads(r["output_json"]) if ok else None,
            raw="" if ok else r["output_json"], error=r["error"], model=r["model"], backend=r["backend"],
            prompt_name=r["prompt_name"], prompt_version=r["prompt_version"])
    return QueryResult(query_id, main_category, by_stage["vlm"], by_stage["llm"])
