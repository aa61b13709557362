"""What each query retrieved: its main category, its top products and their key fields.

- Retrieved products: the query's impressions joined to the catalogue, best rank
  first, at most ``max_products`` (impressions of unknown products are skipped).
- Main category: the most frequent ``main_category`` among the first
  ``category_top_k`` products; a tie goes to the category of the better-ranked product.
- Field importance, per query over its retrieved products, for each metadata field:
  ``fill = filled / n`` and ``variety = (distinct - 1) / (filled - 1)`` (0 when
  ``filled <= 1``); ``importance = fill * (1 + variety) / 2``. A field every product
  fills with one value scores 0.5, one filled with all-different values 1.0, an
  empty one is left out. Ties go to the field name in alphabetical order; the top
  ``top_fields`` are kept.
"""

from __future__ import annotations

METADATA_FIELDS = ("main_category", "subcategory", "brand", "colour", "material", "origin",
                   "package_size", "pattern", "style", "target_group", "spec_model", "spec_size",
                   "shop_id")


def retrieved_products(impressions, products, max_products: int):
    """One row per (query, kept product): rank, similarity, title, price, image, metadata map.

    The positions are taken on the narrow impression rows (ids, rank, similarity), and the
    catalogue's wide columns (title, metadata map) are joined to the kept rows only, so the
    shuffle and sort by query carry a few fields instead of a product's text.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    entries = F.array(*[F.struct(F.lit(f).alias("key"), F.col(f).cast("string").alias("value"))
                        for f in METADATA_FIELDS])
    metadata = F.map_from_entries(F.filter(entries, lambda e: e["value"].isNotNull()))
    catalogue = products.select("product_id", "title", "price", "main_category",
                                F.col("image_uri").alias("product_image_uri"), metadata.alias("metadata"))
    position = F.row_number().over(Window.partitionBy("query_id").orderBy("rank", "product_id"))
    ranked = (impressions.join(products.select("product_id"), "product_id", "left_semi")  # known products only
              .withColumn("position", position)
              .where(F.col("position") <= max_products))
    return ranked.join(catalogue, "product_id", "inner")


def main_categories(retrieved, top_k: int):
    """Per query: ``main_category`` by majority of the top-k products, and ``n_results``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    n_results = retrieved.groupBy("query_id").agg(F.count(F.lit(1)).cast("int").alias("n_results"))
    votes = (retrieved.where(F.col("position") <= top_k)
             .groupBy("query_id", "main_category")
             .agg(F.count(F.lit(1)).alias("votes"), F.min("position").alias("best_position")))
    winner = F.row_number().over(Window.partitionBy("query_id").orderBy(
        F.col("votes").desc(), F.col("best_position")))
    chosen = votes.withColumn("choice", winner).where(F.col("choice") == 1)
    return n_results.join(chosen.select("query_id", "main_category"), "query_id", "left")


def product_lists(retrieved):
    """Per query: ``products``, an array of structs sorted by rank."""
    from pyspark.sql import functions as F

    item = F.struct("position", "rank", "product_id", "similarity", "title", "price",
                    F.col("product_image_uri").alias("image_uri"), "metadata")

    def by_position(left, right):  # maps are not orderable, so sort_array cannot be used
        return F.signum(left["position"] - right["position"]).cast("int")

    ordered = F.array_sort(F.collect_list(item), by_position)
    return retrieved.groupBy("query_id").agg(F.transform(ordered, lambda p: p.dropFields("position"))
                                             .alias("products"))


def field_importance(products):
    """A column: per query, ``(field, importance)`` for each filled metadata field of its
    ``products`` (the array of :func:`product_lists`), as in the module docstring.

    Computed within each row from the query's own product list, so no explode and no
    shuffle: a week's samples carry a dozen products each, with a dozen fields apiece.
    """
    from pyspark.sql import functions as F

    n = F.size(products)
    names = F.array(*[F.lit(name) for name in METADATA_FIELDS])
    values = F.transform(names, lambda name: F.struct(name.alias("field"), F.filter(
        F.transform(products, lambda p: p["metadata"][name]), lambda v: v.isNotNull()).alias("values")))
    counted = F.transform(values, lambda f: F.struct(
        f["field"].alias("field"), F.size(f["values"]).alias("filled"),
        F.size(F.array_distinct(f["values"])).alias("distinct")))

    def importance(c):
        fill = c["filled"] / n
        variety = F.when(c["filled"] > 1, (c["distinct"] - 1) / (c["filled"] - 1)).otherwise(F.lit(0.0))
        return F.struct(c["field"].alias("field"), (fill * (1 + variety) / 2).alias("importance"))

    return F.transform(F.filter(counted, lambda c: c["filled"] > 0), importance)


def top_fields(products, keep: int):
    """A column: field names of ``products`` by importance (desc), ties by name, at most ``keep``."""
    from pyspark.sql import functions as F

    ranked = F.sort_array(F.transform(field_importance(products), lambda x: F.struct(
        (-x["importance"]).alias("order"), x["field"].alias("field"))))
    # nullif (no field name is empty) types the elements nullable, as the Sample schema does;
    # a cast cannot: Spark drops a cast that only relaxes nullability
    return F.transform(F.slice(ranked, 1, keep), lambda x: F.nullif(x["field"], F.lit("")))
