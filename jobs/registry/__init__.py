"""The registry: everything under ``<root>/_registry/``, and nothing else writes there.

::

    <root>/_registry/ontology/v0001.yaml (+ .diff)   the ontology series (validated both ways)
    <root>/_registry/tools.json                      the tool registry (ids, indices, statuses)
    <root>/_registry/tool_lists/v0001.parquet (+ .json)   immutable published tool lists

and the review log, the ``review_decisions`` table (one published run per decision).
Stages read and write these through :mod:`.ontology`, :mod:`.tools`,
:mod:`.tool_lists` and :mod:`.reviews` only.
"""
