"""Versioned prompt templates: ``prompts/<name>/v<N>.yaml`` loaded into a strict model.

A template has a ``system`` part (static for a run: instructions, expert rules, tool
descriptions) and a ``user`` part (per query, last), so vLLM's prefix cache reuses
everything before the query. Rendering fails naming the first missing variable, and
a variable a template does not declare is an error too: a silently empty slot in a
prompt is a bug that no test of the output would catch.

Per-query values come from the logs (titles, brands, OCR text) or from an earlier
model's answer: they are data, never instructions. Templates put each of them between
:data:`DATA_OPEN` and :data:`DATA_CLOSE` and say so in the system part; rendering
(:func:`as_data`) removes anything that looks like those markers from the values and
drops control characters, so a value cannot close its block and speak as the prompt.
"""

from __future__ import annotations

import hashlib
import re
import string
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import InputError

PROMPTS_DIR = resources.files("prompts")  # a folder, or a zip on Spark executors
_TOKEN = re.compile(r"\w+|[^\w\s]")
DATA_OPEN, DATA_CLOSE = "<untrusted-data>", "</untrusted-data>"
_MARKER = re.compile(r"<\s*/?\s*untrusted[-_\s]*data[^>]*>?", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")


def as_data(value: object) -> str:
    """A per-query value made safe to place between the data markers."""
    return _CONTROL.sub(" ", _MARKER.sub("[marker removed]", str(value)))


class PromptError(InputError):
    """A template that cannot be loaded or rendered; the message names the variable or file."""


class PromptTemplate(BaseModel):
    """One prompt version. ``static`` variables go into ``system``, the rest into ``user``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int = Field(ge=1)
    description: str
    response_model: str
    static_variables: list[str] = Field(default_factory=list)
    variables: list[str] = Field(default_factory=list)
    system: str
    user: str

    @property
    def key(self) -> str:
        return f"{self.name}/v{self.version}"

    def digest(self) -> str:
        """Hash of the whole template: part of every checkpoint key and of the run manifest."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]

    def render_system(self, **values: object) -> str:
        return _fill(self.system, self.static_variables, values, f"{self.key} system")

    def render_user(self, **values: object) -> str:
        """The per-query part; every value passes through :func:`as_data`."""
        checked = {k: as_data(v) if v is not None else None for k, v in values.items()}
        return _fill(self.user, self.variables, checked, f"{self.key} user")

    def render(self, static: dict, per_query: dict) -> list[dict]:
        """Chat messages: the static system message first, the per-query user message last."""
        return [{"role": "system", "content": self.render_system(**static)},
                {"role": "user", "content": self.render_user(**per_query)}]


def _fill(text: str, declared: list[str], values: dict, where: str) -> str:
    used = {f for _, f, _, _ in string.Formatter().parse(text) if f}
    undeclared = sorted(used - set(declared))
    if undeclared:
        raise PromptError(f"prompt {where}: uses undeclared variable '{undeclared[0]}'")
    for name in declared:
        if name not in values or values[name] is None:
            raise PromptError(f"prompt {where}: missing variable '{name}'")
    return text.format(**{k: values[k] for k in declared})


@lru_cache(maxsize=64)
def load_prompt(name: str, version: int | None = None, folder=PROMPTS_DIR) -> PromptTemplate:
    """The template ``name`` at ``version`` (the highest version when None)."""
    base = (Path(folder) if isinstance(folder, str) else folder).joinpath(name)
    files = [p.name for p in base.iterdir()] if base.is_dir() else []
    versions = sorted(int(n[1:-5]) for n in files if re.fullmatch(r"v\d+\.yaml", n))
    if not versions:
        raise PromptError(f"prompt '{name}': no v<N>.yaml under {base}")
    chosen = versions[-1] if version is None else version
    path = base.joinpath(f"v{chosen}.yaml")
    if not path.is_file():
        raise PromptError(f"prompt '{name}': version {chosen} not found (have {versions})")
    try:
        data = yaml.safe_load(path.read_text())
        template = PromptTemplate.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise PromptError(f"prompt file {path}: field '{where}': {first['msg']}") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise PromptError(f"prompt file {path}: {exc}".splitlines()[0]) from None
    if (template.name, template.version) != (name, chosen):
        raise PromptError(f"prompt file {path}: says {template.key}, expected {name}/v{chosen}")
    return template


def approx_tokens(text: str) -> int:
    """Word and punctuation count: a tokenizer-free estimate for prefix-share reporting."""
    return len(_TOKEN.findall(text))


def shared_prefix_share(messages: list[list[dict]]) -> float:
    """Share of prompt tokens (estimated) that the requests share as a common prefix.

    The prefix is the system message when every request has the same one; images and
    the user message count as per-query tokens.
    """
    total = shared = 0
    systems = {m[0]["content"] for m in messages if m and m[0]["role"] == "system"}
    for msgs in messages:
        for m in msgs:
            content = m["content"]
            text = content if isinstance(content, str) else " ".join(
                p.get("text", "") for p in content if p.get("type") == "text")
            n = approx_tokens(text)
            total += n
            if m["role"] == "system" and len(systems) == 1:
                shared += n
    return shared / total if total else 0.0
