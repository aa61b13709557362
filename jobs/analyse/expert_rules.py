"""The expert rules: a versioned YAML file read into strict models, evaluated on features.

The same rules serve both backends: the ``rules`` analyst applies them directly,
and the reasoning prompt lists them (with their conditions) for the LLM, as in the
paper. A condition on a missing feature is false, never an error, so a rule about
metadata a query lacks simply does not fire.
"""

from __future__ import annotations

import hashlib
import operator
import random
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import InputError

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq, "!=": operator.ne}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    feature: str
    op: Literal["<", "<=", ">", ">=", "==", "!=", "in"]
    value: Union[float, str, list[str]]

    def holds(self, features: dict) -> bool:
        have = features.get(self.feature)
        if have is None:
            return False
        if self.op == "in":
            return have in (self.value if isinstance(self.value, list) else [self.value])
        try:
            return bool(_OPS[self.op](have, self.value))
        except TypeError:
            return False

    def describe(self) -> str:
        value = ", ".join(self.value) if isinstance(self.value, list) else self.value
        return f"{self.feature} {self.op} {value}"


_ALTERNATION = re.compile(r"\[([^\[\]]*)\]")


def _phrase(template: str, pick) -> str:
    """``template`` with each ``[a|b|c]`` replaced by ``pick(options)`` (an empty option allowed)."""
    text = _ALTERNATION.sub(lambda m: pick(m.group(1).split("|")), template)
    return " ".join(text.split())


def phrasings(template: str) -> int:
    """How many distinct wordings a phrasing template can produce (at most)."""
    n = 1
    for group in _ALTERNATION.findall(template):
        n *= len(set(group.split("|")))
    return n


class Rule(_Strict):
    id: str
    text: str
    all: list[Condition] = Field(default_factory=list)
    any: list[Condition] = Field(default_factory=list)
    # Phrasing templates: ``[a|b]`` picks one alternative (``[|b]`` may leave it out). The
    # first template with every first alternative is the canonical wording.
    action: list[str] = Field(min_length=1)
    info: str
    priority: int = 0
    stop: bool = False  # when it fires, no lower-priority rule is considered

    @field_validator("action")
    @classmethod
    def _balanced(cls, templates: list[str]) -> list[str]:
        for t in templates:
            outside = _ALTERNATION.sub("", t)
            if "[" in outside or "]" in outside:
                raise ValueError(f"action phrasing {t!r}: unbalanced or nested [ ] alternatives")
            if not _phrase(t, lambda options: options[0]):
                raise ValueError(f"action phrasing {t!r}: its canonical wording is empty")
        return templates

    @property
    def canonical_action(self) -> str:
        return _phrase(self.action[0], lambda options: options[0])

    def phrase_action(self, rng: random.Random) -> str:
        """One wording of the action: a template, then one alternative per group, all from ``rng``."""
        return _phrase(rng.choice(self.action), rng.choice)

    def fires(self, features: dict) -> bool:
        return (all(c.holds(features) for c in self.all)
                and (not self.any or any(c.holds(features) for c in self.any)))

    def info_for(self, features: dict) -> str:
        try:
            return self.info.format(**features)
        except (KeyError, IndexError) as exc:
            raise InputError(f"expert rule {self.id}: info uses unknown feature {exc}") from None

    def prompt_line(self) -> str:
        when = " and ".join(c.describe() for c in self.all)
        if self.any:
            when = (when + " and " if when else "") + "(" + " or ".join(c.describe() for c in self.any) + ")"
        return f"- [{self.id}] {self.text} When: {when or 'always'}. Signal: {self.canonical_action} -> {self.info}"


class ExpertRules(_Strict):
    name: str
    version: int = Field(ge=1)
    colour_names: dict[str, list[int]]
    rules: list[Rule] = Field(min_length=1)
    fallback: Rule

    def fired(self, features: dict) -> list[Rule]:
        """Rules whose conditions hold, highest priority first (file order breaks ties)."""
        hits = sorted((r for r in self.rules if r.fires(features)), key=lambda r: -r.priority)
        for i, rule in enumerate(hits):
            if rule.stop:
                return hits[: i + 1]
        return hits or [self.fallback]

    def prompt_text(self) -> str:
        """The rules as the reasoning prompt lists them: stable text, part of the shared prefix."""
        return "\n".join(r.prompt_line() for r in self.rules)

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


@lru_cache(maxsize=8)
def load_rules(path: str | Path | None = None) -> ExpertRules:
    """The expert rules at ``path`` (the packaged ``rules/expert_rules.yaml`` by default)."""
    from rules import EXPERT_RULES_FILE

    path = Path(path) if path else EXPERT_RULES_FILE
    try:
        return ExpertRules.model_validate(yaml.safe_load(path.read_text()))
    except FileNotFoundError:
        raise InputError(f"expert rules file not found: {path}") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise InputError(f"expert rules file {path}: {str(exc).splitlines()[0]}") from None
