"""The ontology file: main categories, subcategories and their keyword lists.

A versioned YAML file reviewed by people (SPEC "Ontology file")::

    name: visual-search-tools
    version: 3
    categories:
      - name: search condition refinement
        keywords: [refine, condition, filter, attribute]
        subcategories:
          - name: colour condition
            keywords: [colour, color, black, red]

Order matters only for ties: the first listed label wins. Loading validates
strictly and raises one line that names the file and the offending key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from clustering.tokens import normalize
from core.errors import InputError
from core.files import write_text

OTHER = "other"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Label(_Strict):
    """A label ℓ with its keyword-synonym list K_ℓ."""

    name: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)

    @field_validator("keywords")
    @classmethod
    def _keywords_have_words(cls, keywords: list[str]) -> list[str]:
        for i, keyword in enumerate(keywords):
            if not normalize(keyword):
                raise ValueError(f"keyword {i} ({keyword!r}) has no letters or digits")
        return keywords


class Subcategory(Label):
    """A fine-grained label inside a main category."""


class Category(Label):
    """A main category with its own keywords and its ordered subcategories."""

    subcategories: list[Subcategory] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_subcategories(self) -> "Category":
        names = [s.name for s in self.subcategories]
        if OTHER in names:
            raise ValueError(f"subcategory name '{OTHER}' is reserved for the leftover bucket")
        _require_unique(names, f"subcategory of '{self.name}'")
        return self


class Ontology(_Strict):
    """A named, versioned two-level ontology."""

    name: str = Field(min_length=1)
    version: int = Field(ge=0)
    categories: list[Category] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_categories(self) -> "Ontology":
        _require_unique([c.name for c in self.categories], "category")
        return self


def _require_unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what} name '{name}'")
        seen.add(name)


def _key(loc: tuple) -> str:
    """``('categories', 1, 'keywords')`` -> ``categories[1].keywords``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_ontology(path: str | Path) -> Ontology:
    """Read and validate an ontology file; bad input raises a one-line InputError."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the ontology file ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"{path}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping with keys name, version, categories")
    try:
        return Ontology.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        given = first.get("input")
        if first["type"] != "value_error" and not isinstance(given, (dict, list)):
            message += f" (got {given!r})"
        raise InputError(f"{path}: key '{_key(first['loc'])}': {message}") from None


def dump_text(ontology: Ontology) -> str:
    """The ontology as the SPEC's YAML (keyword lists in flow style)."""
    return yaml.safe_dump(ontology.model_dump(), sort_keys=False, allow_unicode=True,
                          default_flow_style=None, width=100)


def dump_ontology(ontology: Ontology, path: str | Path) -> Path:
    """Write the ontology's YAML atomically."""
    return write_text(path, dump_text(ontology))


@dataclass(frozen=True)
class LabelTable:
    """The ontology flattened for the algorithms: names and normalised keywords per level.

    ``sub_owner[j]`` is the index of the main category that owns subcategory ``j``.
    ``*_texts`` are what s_sem embeds: the keywords as written, joined by spaces.
    """

    main_names: list[str]
    main_keywords: list[list[str]]
    main_texts: list[str]
    sub_names: list[str]
    sub_keywords: list[list[str]]
    sub_texts: list[str]
    sub_owner: np.ndarray

    @classmethod
    def from_ontology(cls, ontology: Ontology) -> "LabelTable":
        subs = [(i, s) for i, c in enumerate(ontology.categories) for s in c.subcategories]
        return cls(
            main_names=[c.name for c in ontology.categories],
            main_keywords=[[normalize(k) for k in c.keywords] for c in ontology.categories],
            main_texts=[" ".join(c.keywords) for c in ontology.categories],
            sub_names=[s.name for _, s in subs],
            sub_keywords=[[normalize(k) for k in s.keywords] for _, s in subs],
            sub_texts=[" ".join(s.keywords) for _, s in subs],
            sub_owner=np.array([i for i, _ in subs], dtype=np.int64),
        )
