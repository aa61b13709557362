"""One query's analysis outcome, and its rows in the ``analyses`` and ``signals`` tables.

Both backends (and cache hits) produce :class:`QueryResult`; this module alone turns
it into table rows, so provenance (backend, model, prompt name and version, run id)
is written the same way whatever produced the answer.

A model's answer is untrusted too (a prompt injection in a product title may steer it):
before it becomes a signal, :func:`checked` validates it against its schema *and* the
content policy (:func:`policy_violation`): every string is plain text, with no markup
(``<``, ``>``), no control or bidirectional-override characters, within length caps; and an
action or Info neither reads as code or a command (SQL statements, shell commands, "ignore
previous instructions", URLs) nor echoes a run of two or more words copied from the query's
untrusted text (titles, metadata) unless every word is a catalogue attribute word (a word
of a short metadata value such as a colour or brand). A failing answer is kept in
``analyses`` with status ``failed`` and the reason, counted, and never published as a signal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import NamedTuple

from pydantic import BaseModel, ValidationError

from schemas.llm import LlmReasoning, VlmAnalysis

POLICY_FAILED = "content policy"
_MARKUP = re.compile(r"[<>]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAK = re.compile(r"[\n\t]")
MAX_CHARS = {"action": 80, "info": 80}  # Action -> Info are short; other fields: their schema caps
MULTILINE = {"reasoning"}  # the trace may break lines; nothing else may

_COMMAND = re.compile("|".join((
    r"\b(?:drop|truncate|alter|create)\s+(?:table|database|schema|index|view|user)\b",  # SQL statements
    r"\bdelete\s+from\b", r"\binsert\s+into\b", r"\bupdate\s+\w+\s+set\b", r"\bunion\s+(?:all\s+)?select\b",
    r"\bselect\s+(?:\*|\w+(?:\s*,\s*\w+)+)\s+from\b", r";\s*--", r"'\s*or\s+'?1'?\s*=\s*'?1",
    r"\b(?:rm\s+-\w|sudo\s+\w|chmod\s+\S|curl\s+\S|wget\s+\S|(?:ba)?sh\s+-c\b)", r"\$\(|`|&&|\|\s*(?:ba)?sh\b",
    r"/(?:bin|etc|dev|tmp|usr)/",  # shell commands and system paths
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:the\s+|your\s+)?"
    r"(?:previous|prior|above|earlier|preceding|system)\b", r"\bsystem\s+prompt\b",  # instruction overrides
    r"\b[a-z][a-z0-9+.-]*://", r"\bwww\.\w", r"\b(?:javascript|data|vbscript):",  # URLs
)), re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")
ATTRIBUTE_WORDS_MAX = 3  # a metadata value of at most this many words is an attribute (colour, brand)
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


def _strings(value, path: str = ""):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")


class Untrusted(NamedTuple):
    """A query's untrusted text, prepared once for the echo rule.

    ``text``: every title and metadata value as its casefolded words, each string padded by
    spaces and the strings joined by NUL (a run of words padded by spaces, as the rule looks
    for it, cannot span two strings); ``attributes``: the words of the short metadata values.
    """

    text: str = ""
    attributes: frozenset = frozenset()


def untrusted_text(sample: dict | None) -> Untrusted:
    """A query's untrusted strings (product titles, metadata values), prepared for the echo rule
    (each product's once: the same products come back in many queries of a week)."""
    parts = [_product_text(product.get("title") or "", tuple(map(str, dict(product.get("metadata") or {}).values())))
             for product in (sample or {}).get("products") or []]
    return Untrusted("\0".join(text for text, _ in parts), frozenset().union(*(words for _, words in parts)))


@lru_cache(maxsize=65_536)
def _product_text(title: str, values: tuple[str, ...]) -> tuple[str, frozenset]:
    """One product's part of :class:`Untrusted`: its strings as padded casefolded words joined by
    NUL, and the words of its short values."""
    attributes = frozenset(w for v in values if len(v.split()) <= ATTRIBUTE_WORDS_MAX for w in _WORD.findall(v.casefold()))
    return "\0".join(" " + " ".join(_WORD.findall(t.casefold())) + " " for t in (title, *values)), attributes


def _echo(text: str, untrusted: Untrusted) -> str | None:
    """The first run of >= 2 words of ``text`` found in a row in an untrusted string, unless
    all its words are attribute words; the longest such run from that start."""
    if not untrusted.text:
        return None
    words = _WORD.findall(text.casefold())
    for start in range(len(words) - 1):
        run = None
        for stop in range(start + 2, len(words) + 1):
            if f" {' '.join(words[start:stop])} " not in untrusted.text:
                break
            run = words[start:stop]
        if run and not {w for w in run if not w.isdigit()} <= untrusted.attributes:  # numbers: sizes, models
            return " ".join(run)
    return None


def policy_violation(output: dict, untrusted: Untrusted = Untrusted()) -> str | None:
    """Why an answer breaks the content policy (naming the field), or None when it is plain text.

    ``untrusted``: the query's :func:`untrusted_text`, for the echo rule on actions and Infos.
    """
    for path, text in _strings(output):
        name = re.sub(r"\[\d+\]", "", path).rsplit(".", 1)[-1]
        if name in MAX_CHARS and (found := _COMMAND.search(text)):
            return f"{path}: reads as code or a command ({found.group().strip()!r})"
        if name in MAX_CHARS and (copied := _echo(text, untrusted)):
            return f"{path}: repeats untrusted text ({copied!r})"
        if _MARKUP.search(text):
            return f"{path}: markup character '{_MARKUP.search(text).group()}'"
        if _CONTROL.search(text) or (name not in MULTILINE and _LINE_BREAK.search(text)):
            return f"{path}: control character U+{ord((_CONTROL.search(text) or _LINE_BREAK.search(text)).group()):04X}"
        if name in MAX_CHARS and len(text) > MAX_CHARS[name]:
            return f"{path}: {len(text)} characters (max {MAX_CHARS[name]})"
    return None


def _check(out: StageOutput, model: type[BaseModel], untrusted) -> StageOutput:
    if out.status not in ("ok", "cached") or out.output is None:
        return out
    try:
        model.model_validate(out.output)
        reason = policy_violation(out.output, untrusted)
        why = f"{POLICY_FAILED}: {reason}" if reason else None
    except ValidationError as exc:
        first = exc.errors()[0]
        why = f"schema: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    if why is None:
        return out
    return replace(out, status="failed", output=None, error=why,
                   raw=json.dumps(out.output, ensure_ascii=False, sort_keys=True))


def checked(result: QueryResult, sample: dict | None = None) -> QueryResult:
    """``result`` with each answer that fails its schema or the content policy marked failed.

    ``sample``: the query's ``samples`` row, whose titles and metadata the answer must not
    echo. When the VLM answer fails, the reasoning answer built on it fails too.
    """
    untrusted = untrusted_text(sample)
    vlm, llm = _check(result.vlm, VlmAnalysis, untrusted), _check(result.llm, LlmReasoning, untrusted)
    if vlm is not result.vlm and llm.status in ("ok", "cached"):
        llm = replace(llm, status="failed", output=None, error=f"skipped: the VLM answer failed ({vlm.error})",
                      raw=json.dumps(llm.output, ensure_ascii=False, sort_keys=True))
    if vlm is result.vlm and llm is result.llm:
        return result
    return QueryResult(result.query_id, result.main_category, vlm, llm, result.extra)


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
