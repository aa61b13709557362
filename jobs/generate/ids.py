"""Identifiers of generated rows (``q000000042``), shared by the log writer and the traffic model."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + each number zero-padded to ``width`` digits, as an Arrow string array."""
    text = pc.utf8_lpad(pa.array(numbers, pa.int64()).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, text, "")
