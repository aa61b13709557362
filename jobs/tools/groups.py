"""The week's fine-grained groups: signals joined to their cluster and a group key per row
(the keys of :mod:`jobs.registry.tools`). Everything is a pandas group-by.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from clustering.ontology import OTHER
from jobs.cluster.tree import NOISE
from jobs.registry.tools import aux_key, name_key, sub_key


def labelled_signals(assignments: pa.Table, signals: pa.Table, include_other: bool) -> pd.DataFrame:
    """One row per clustered signal with its info, reasoning and ``group_key``.

    ``group_key`` is null for noise and, unless ``include_other``, for "other" buckets.
    ``kind`` is "sub", "aux" or null.
    """
    cols = ["query_id", "order", "action", "main_category", "subcategory", "aux_cluster"]
    left = assignments.select(cols).to_pandas()
    right = signals.select(["query_id", "order", "info", "reasoning"]).to_pandas()
    rows = left.merge(right, on=["query_id", "order"], how="left", validate="one_to_one")
    rows["info"] = rows["info"].fillna("")
    rows["reasoning"] = rows["reasoning"].fillna("")
    groups = rows.groupby(["main_category", "subcategory", "aux_cluster"], dropna=False, sort=False)
    ids = groups.ngroup().to_numpy()
    combos = groups.size().reset_index()[["main_category", "subcategory", "aux_cluster"]]
    keys, kinds = zip(*[_combo_key(m, s, a, include_other) for m, s, a in combos.itertuples(index=False)]) \
        if len(combos) else ((), ())
    rows["group_key"] = np.asarray(keys, dtype=object)[ids] if len(combos) else None
    rows["kind"] = np.asarray(kinds, dtype=object)[ids] if len(combos) else None
    return rows


def _combo_key(main, sub, aux, include_other: bool) -> tuple[str | None, str | None]:
    if aux is not None and not pd.isna(aux):
        return (aux_key(aux), "aux") if int(aux) != NOISE else (None, None)
    if main is None or pd.isna(main):
        return None, None
    sub = OTHER if sub is None or pd.isna(sub) else sub
    if name_key(sub) == OTHER and not include_other:
        return None, None
    return sub_key(main, sub), "sub"
