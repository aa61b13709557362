"""One pydantic model per table, and the registry :data:`TABLES` that names them.

Raw log tables (what ``generate-logs`` writes and production logs must look like)
come first, then one table per pipeline stage in data-flow order. Every pipeline
table carries ``run_id`` so each row says which run produced it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Optional

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from schemas.arrow import Arrow

Float32 = Annotated[float, Arrow(pa.float32())]
Int32 = Annotated[int, Arrow(pa.int32())]
Id = Annotated[str, Field(min_length=1)]


class Row(BaseModel):
    """Base of every table model: unknown fields are an error, not a surprise."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- raw search logs
class SearchEvent(Row):
    """One search request. ``image_uri`` is relative to the logs folder (or a URL)."""

    query_id: Id
    user_id: Id
    ts: dt.datetime
    query_type: Literal["image", "text"]
    image_uri: Optional[str] = None
    text: Optional[str] = None
    device: str
    user_agent: str
    ip: str


class Impression(Row):
    """One retrieved product shown for a query, best first (rank 1)."""

    query_id: Id
    rank: Annotated[Int32, Field(ge=1)]
    product_id: Id
    similarity: Annotated[Float32, Field(ge=-1, le=1)]


class Click(Row):
    """A click on a retrieved product."""

    query_id: Id
    product_id: Id
    ts: dt.datetime


class Product(Row):
    """A catalogue entry. Metadata fields are nullable: not every category fills each."""

    product_id: Id
    title: str
    main_category: str
    subcategory: str
    brand: Optional[str] = None
    price: Annotated[float, Field(ge=0)]
    currency: str = "CNY"
    colour: Optional[str] = None
    material: Optional[str] = None
    origin: Optional[str] = None
    package_size: Optional[str] = None
    pattern: Optional[str] = None
    style: Optional[str] = None
    target_group: Optional[str] = None
    spec_model: Optional[str] = None
    spec_size: Optional[str] = None
    shop_id: str
    rating: Annotated[Float32, Field(ge=0, le=5)]
    monthly_sales: Annotated[int, Field(ge=0)]
    image_uri: str


class GroundTruth(Row):
    """What the generator planted for a query. Read by evaluations only, never by stages."""

    query_id: Id
    user_is_bot: bool
    image_defect: Optional[Literal["tiny", "blurred", "dark", "bright", "uniform"]] = None
    near_duplicate_of: Optional[str] = None
    scenario: Optional[str] = None
    intended_category: str
    intended_colour: Optional[str] = None
    intended_brand: Optional[str] = None
    intended_price_band: Optional[Literal["low", "mid", "high"]] = None
    expected_action: Optional[str] = None
    expected_info: Optional[str] = None


# ---------------------------------------------------------------- stage 1: sample
class NoClickQuery(Row):
    """An image query of the week with no click within the window, after the filters.

    ``main_category`` is the majority category of the top retrieved products (null
    when nothing was retrieved); the image scores are on grey levels 0-255.
    """

    query_id: Id
    user_id: str
    ts: dt.datetime
    image_uri: str
    device: Optional[str] = None
    main_category: Optional[str] = None
    n_results: Int32
    width: Int32
    height: Int32
    blur_score: Float32  # variance of the Laplacian
    brightness: Float32  # mean grey level
    contrast: Float32  # standard deviation of the grey levels
    run_id: str


class FilteredQuery(Row):
    """A no-click query dropped by a filter: the first rule that fired, and all that did.

    Image scores are null for queries dropped by a bot rule (their pixels are not read).
    """

    query_id: Id
    user_id: str
    ts: dt.datetime
    image_uri: Optional[str] = None
    reason: str
    reasons: list[str]
    detail: Optional[str] = None
    width: Optional[Int32] = None
    height: Optional[Int32] = None
    blur_score: Optional[Float32] = None
    brightness: Optional[Float32] = None
    contrast: Optional[Float32] = None
    run_id: str


class RejectedRow(Row):
    """A malformed input row, quarantined with the reason (``row_key`` names the row)."""

    table: str
    row_key: Optional[str] = None
    reason: str
    detail: Optional[str] = None
    run_id: str


class RetrievedProduct(Row):
    """One of the (at most 12) products retrieved for a sampled query, best first."""

    rank: Int32
    product_id: str
    similarity: Float32
    title: str
    price: float
    image_uri: str
    metadata: dict[str, str]


class Sample(Row):
    """A sampled no-click query with its retrieval context.

    ``sample_weight`` = queries of the category this week / queries sampled from it,
    so weighted counts over the sample estimate the week's traffic.
    ``top_fields`` are metadata fields ranked by importance (docs/sample.md).
    """

    query_id: Id
    user_id: str
    ts: dt.datetime
    image_uri: str
    main_category: str
    sample_rank: Int32  # position in the category's seeded order, 1-based
    category_population: int
    category_sampled: int
    sample_weight: Annotated[float, Field(gt=0)]
    products: list[RetrievedProduct]
    top_fields: list[str]
    run_id: str


# ---------------------------------------------------------------- stages 2-4
class CacheHit(Row):
    """A query whose near-duplicate from an earlier query supplies the analysis."""

    query_id: Id
    matched_query_id: str
    matched_week: str
    similarity: Float32
    run_id: str


class Analysis(Row):
    """The VLM and LLM outputs for a query, as JSON text, with provenance."""

    query_id: Id
    stage: Literal["vlm", "llm"]
    output_json: str
    status: Literal["ok", "failed", "cached"]
    error: Optional[str] = None
    backend: str
    model: str
    prompt_name: str
    prompt_version: int
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    latency_s: Optional[Float32] = None
    run_id: str


class Signal(Row):
    """One ``Action -> Info`` signal of a query, in the order the reasoner gave it."""

    query_id: Id
    order: Int32
    action: Annotated[str, Field(min_length=1)]
    info: str
    reasoning: str
    main_category: Optional[str] = None
    backend: str
    model: str
    prompt_name: str
    prompt_version: int
    run_id: str


# ---------------------------------------------------------------- stages 6-8
class Assignment(Row):
    """Where the clustering put one signal's action."""

    query_id: Id
    order: Int32
    action: str
    main_category: Optional[str] = None
    subcategory: Optional[str] = None
    aux_cluster: Optional[int] = None
    main_score: Float32
    sub_score: Optional[Float32] = None
    method: str
    ontology_version: int
    run_id: str


class ClusterNode(Row):
    """A node of the cluster tree: a main category, a subcategory or an auxiliary cluster."""

    level: Literal["main", "sub", "aux", "noise"]
    main_category: Optional[str] = None
    subcategory: Optional[str] = None
    aux_cluster: Optional[int] = None
    size: Annotated[int, Field(ge=0)]
    n_queries: Annotated[int, Field(ge=0)]
    examples: list[str]
    first_week: str
    run_id: str


class ClusterMapPoint(Row):
    """A node of the week's cluster tree placed on a 2-D map (``cluster_map``, by the cluster stage).

    ``key`` is the node's group key (``main::<main>``, ``sub::<main>::<sub>``, ``aux::<n>``);
    ``x``, ``y`` in [0, 1] are the first two principal axes of the node centroids (mean
    embedding of the node's actions, weighted by count); ``neighbours`` are the keys of
    the nodes of the same level kind (sub or aux) with the most similar centroids, best
    first, with their cosine in ``neighbour_similarity``.
    """

    key: Id
    level: Literal["main", "sub", "aux"]
    main_category: Optional[str] = None
    subcategory: Optional[str] = None
    aux_cluster: Optional[int] = None
    size: Annotated[int, Field(ge=0)]
    x: Float32
    y: Float32
    neighbours: list[str]
    neighbour_similarity: list[float]
    run_id: str


class Tool(Row):
    """A tool of a published tool-list version (docs/tools.md).

    ``index`` never changes meaning and is never reused: renamed tools keep it,
    merged tools keep theirs (``merged_into`` names the survivor) and retired ones
    stay listed. ``traffic_share*`` estimate the share of the week's sampled
    no-click queries that need the tool, with a stratified Wilson interval.
    """

    tool_id: Id
    index: Annotated[int, Field(ge=1)]
    title: str
    description: str
    expected_input: str
    expected_output: str
    kind: Literal["sub", "aux"]
    main_category: Optional[str] = None
    subcategory: Optional[str] = None
    aux_cluster: Optional[int] = None
    n_actions: Annotated[int, Field(ge=0)]
    n_queries: Annotated[int, Field(ge=0)]
    traffic_share: Annotated[float, Field(ge=0, le=1)]
    traffic_share_low: Annotated[float, Field(ge=0, le=1)]
    traffic_share_high: Annotated[float, Field(ge=0, le=1)]
    prev_traffic_share: Optional[float] = None
    share_change: Optional[float] = None  # traffic_share - prev_traffic_share
    example_actions: list[str]
    example_infos: list[str]
    first_week: str
    last_week: str
    status: Literal["proposed", "approved", "rejected", "retired"]
    merged_into: Optional[str] = None
    list_version: Annotated[int, Field(ge=1)]
    run_id: str


class TrainingSample(Row):
    """Supervised data for the online planner: query context -> reasoning and tool indices.

    ``tool_indices`` are in the reasoner's order, each once; ``tool_infos[i]`` is the
    Info the tool ``tool_indices[i]`` needs; ``target`` is the assistant answer text.
    """

    query_id: Id
    query_image_uri: str
    main_category: Optional[str] = None
    retrieval: str
    reasoning: str
    tool_indices: list[int]
    tool_infos: list[str]
    target: str
    list_version: Annotated[int, Field(ge=1)]
    run_id: str


class ReviewDecision(Row):
    """A reviewer's decision on a tool: an append-only log, applied at the next ``tools`` run.

    Each decision is published as its own run (``run_id`` = ``review-<decision_id>``),
    so recording the same decision id twice changes nothing.
    """

    decision_id: Id
    tool_id: Id
    action: Literal["approve", "reject", "rename", "merge", "retire"]
    value: Optional[str] = None  # the new title (rename) or the surviving tool id (merge)
    reviewer: str
    reason: Optional[str] = None
    ts: dt.datetime
    run_id: str


class ReplayQuery(Row):
    """A sampled query replayed through its predicted tools (docs/replay.md).

    ``tool_ids`` in the plan's order, ``executors`` and ``notes`` aligned with them;
    ``*_products`` are the top-4 product ids before and after. The relevance columns
    judge the top-1 / top-4 against the generator's ground truth and are null when the
    query has none (real logs).
    """

    query_id: Id
    main_category: Optional[str] = None
    scenario: Optional[str] = None
    tool_ids: list[str]
    tool_indices: list[int]
    executors: list[str]
    notes: list[str]
    changed: bool
    asks_shopper: bool
    shows_information: bool
    baseline_products: list[str]
    replay_products: list[str]
    baseline_top1: Optional[bool] = None
    baseline_top4: Optional[bool] = None
    replay_top1: Optional[bool] = None
    replay_top4: Optional[bool] = None
    list_version: Optional[int] = None
    run_id: str


class ReplayTool(Row):
    """Per tool: what its executor did on the week's queries, and their relevance before and after.

    Relevance shares are over the ``n_judged`` queries with ground truth whose plan holds
    the tool (null without ground truth).
    """

    tool_id: Id
    index: Optional[int] = None
    title: str
    executor: str
    n_queries: Annotated[int, Field(ge=0)]
    n_changed: Annotated[int, Field(ge=0)]
    n_no_match: Annotated[int, Field(ge=0)]
    n_asks_shopper: Annotated[int, Field(ge=0)]
    n_judged: Annotated[int, Field(ge=0)]
    baseline_top1: Optional[float] = None
    baseline_top4: Optional[float] = None
    replay_top1: Optional[float] = None
    replay_top4: Optional[float] = None
    run_id: str


class StageRecord(Row):
    """One stage's entry in a run manifest."""

    stage: str
    started: dt.datetime
    seconds: float
    tables: dict[str, int]
    metrics: dict[str, float]


class RunManifest(Row):
    """What a run read, how it was configured, what it wrote."""

    run_id: Id
    week: str
    settings_hash: str
    code_version: str
    inputs: dict[str, str]
    models: dict[str, str]
    prompts: dict[str, str]
    stages: list[StageRecord]
    status: str = "complete"  # "writing" until the run commits; inputs hold the logs' fingerprint


TABLES: dict[str, type[Row]] = {
    "search_events": SearchEvent,
    "impressions": Impression,
    "clicks": Click,
    "products": Product,
    "ground_truth": GroundTruth,
    "no_click_queries": NoClickQuery,
    "filtered_queries": FilteredQuery,
    "rejected_rows": RejectedRow,
    "samples": Sample,
    "cache_hits": CacheHit,
    "analyses": Analysis,
    "signals": Signal,
    "assignments": Assignment,
    "clusters": ClusterNode,
    "cluster_map": ClusterMapPoint,
    "tools": Tool,
    "training_samples": TrainingSample,
    "replay": ReplayQuery,
    "replay_tools": ReplayTool,
    "review_decisions": ReviewDecision,
    "run_manifests": RunManifest,
}

LOG_TABLES = ("search_events", "impressions", "clicks", "products")


def model_for(table: str) -> type[Row]:
    """The model registered for ``table``; a clear error for an unknown name."""
    try:
        return TABLES[table]
    except KeyError:
        raise KeyError(f"unknown table '{table}'; known: {', '.join(TABLES)}") from None
