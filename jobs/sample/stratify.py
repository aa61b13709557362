"""Stratified sampling per main category, deterministic for a seed.

Within a category, queries are ordered by ``sha256("<seed>:<query_id>")`` (then the
id itself) and the first ``per_category`` are taken. The order does not depend on
partitioning or on which other queries exist, so a rerun gives the same sample,
a larger ``per_category`` extends it, and a new seed draws an independent one.
``sample_weight`` is the category's population over its sampled count.
"""

from __future__ import annotations


def stratified_sample(queries, per_category: int, seed: int):
    """Rows of ``queries`` (with a non-null ``main_category``) chosen per category.

    Adds ``sample_rank``, ``category_population``, ``category_sampled`` and ``sample_weight``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    draw_key = F.sha2(F.concat(F.lit(f"{seed}:"), F.col("query_id")), 256)
    category = Window.partitionBy("main_category")
    in_order = category.orderBy("draw_key", "query_id")
    ranked = (queries.where(F.col("main_category").isNotNull())
              .withColumn("draw_key", draw_key)
              .withColumn("sample_rank", F.row_number().over(in_order))
              .withColumn("category_population", F.count(F.lit(1)).over(category)))
    sampled_count = F.least(F.col("category_population"), F.lit(per_category))
    return (ranked.where(F.col("sample_rank") <= per_category)
            .withColumn("category_sampled", sampled_count)
            .withColumn("sample_weight", F.col("category_population") / F.col("category_sampled"))
            .drop("draw_key"))
