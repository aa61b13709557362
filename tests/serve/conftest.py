"""A small two-week warehouse for the app: photos in a logs folder, tables built inline, then the
real cluster stage (embedding model, two-level clustering, cluster map) and the real tools stage."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from PIL import Image

from jobs.common.settings import ClusterSettings, Settings, ToolsSettings
from jobs.common.storage import write_table
from schemas.arrow import to_arrow
from schemas.tables import Analysis, Sample, Signal

W1, W2 = "2026-W47", "2026-W48"
EVIL = "<script>alert('t')</script><img src=x onerror=alert(1)>"
ONTOLOGY = {"name": "visual-search-tools", "version": 1, "categories": [
    {"name": "search condition refinement", "keywords": ["refine", "condition", "filter", "attribute"],
     "subcategories": [{"name": "colour condition", "keywords": ["colour", "color", "black", "red"]},
                       {"name": "brand condition", "keywords": ["brand", "logo", "ocr"]}]},
    {"name": "price", "keywords": ["price", "cheaper", "budget"],
     "subcategories": [{"name": "price band", "keywords": ["band", "segment", "range"]}]}]}
ACTIONS = [  # (action, info)
    ("refine the colour condition", "red"), ("add a colour filter", "black"), ("filter by colour", "red"),
    ("add the brand condition from the logo", "Blendy"), ("filter by brand logo ocr", "Nike"),
    ("segment the price band", "low"), ("show a cheaper price range", "under 50"),
]


def settings_for(root: Path) -> Settings:
    return Settings(run_id="r1", cluster=ClusterSettings(ontology=str(root / "ontology.yaml")),
                    tools=ToolsSettings(min_aux_size=2, retire_after_weeks=4, ontology=str(root / "ontology.yaml")))


def _photo(path: Path, colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (48, 48), colour).save(path)


def write_inputs(root: Path, logs: Path, week: str, n_queries: int, offset: int) -> None:
    """samples (with photos under ``logs``), analyses and signals of one week."""
    samples, analyses, signals = [], [], []
    for i in range(n_queries):
        qid = f"q{offset + i:04d}"
        _photo(logs / "images" / f"{qid}.png", (40 * (i % 6), 90, 200 - 20 * (i % 9)))
        products = []
        for rank in (1, 2):
            _photo(logs / "images" / f"p{rank}.png", (200, 40 * rank, 40))
            title = EVIL if (qid == "q0000" and rank == 1) else f"cotton shirt {rank}"
            products.append({"rank": rank, "product_id": f"p{rank}", "similarity": 0.9 - rank / 100, "title": title,
                             "price": 19.5 * rank, "image_uri": f"images/p{rank}.png", "metadata": {"colour": "red"}})
        main = "apparel" if i % 2 else "shoes"
        samples.append({"query_id": qid, "user_id": "u", "ts": dt.datetime(2026, 11, 16, tzinfo=dt.timezone.utc),
                        "image_uri": f"images/{qid}.png", "main_category": main, "sample_rank": i + 1,
                        "category_population": 10 * n_queries, "category_sampled": n_queries // 2,
                        "sample_weight": 20.0, "products": products, "top_fields": ["colour"], "run_id": "r1"})
        picked = [ACTIONS[i % len(ACTIONS)], ACTIONS[(i * 3 + 1) % len(ACTIONS)]]
        reasoning = f"results differ in colour and brand from the photo of {qid} (rule colour_mismatch)"
        for order, (action, info) in enumerate(dict.fromkeys(picked), start=1):
            signals.append({"query_id": qid, "order": order, "action": action, "info": info, "reasoning": reasoning,
                            "main_category": main, "backend": "rules", "model": "rules-v2", "prompt_name": "reason",
                            "prompt_version": 1, "run_id": "r1"})
        for stage, output in (("vlm", {"query_description": f"a photo of a shirt ({qid})", "differences": [],
                                       "user_suggestions": [], "platform_suggestions": []}),
                              ("llm", {"reasoning": reasoning, "compressed_reasoning": "colour", "signals": []})):
            analyses.append({"query_id": qid, "stage": stage, "output_json": json.dumps(output), "status": "ok",
                             "backend": "rules", "model": "rules-v2", "prompt_name": stage, "prompt_version": 1,
                             "run_id": "r1"})
    write_table(root, "samples", week, "r1", to_arrow(Sample, samples))
    write_table(root, "analyses", week, "r1", to_arrow(Analysis, analyses))
    write_table(root, "signals", week, "r1", to_arrow(Signal, signals))


def build_warehouse(base: Path) -> tuple[Path, Path]:
    from jobs.pipeline import run_week

    root, logs = base / "warehouse", base / "logs"
    root.mkdir(parents=True)
    (root / "ontology.yaml").write_text(yaml.safe_dump(ONTOLOGY, sort_keys=False))
    cfg = settings_for(root)
    for week, n, offset in ((W1, 24, 0), (W2, 30, 100)):
        write_inputs(root, logs, week, n, offset)
        run_week(logs, root, week, cfg, "cluster", "tools")
    return root, logs


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> tuple[Path, Path]:
    return build_warehouse(tmp_path_factory.mktemp("serve"))
