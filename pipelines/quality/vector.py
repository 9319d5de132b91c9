"""Column helpers that stay vectorised on pandas' pyarrow-backed text columns.

pandas 3 stores text as ``str`` (a pyarrow ``large_string`` array). Its ``Series.isin`` on such a
column turns every candidate value into a Python object first — about a second per million
candidates — so membership tests against a batch's own keys go through pyarrow here instead, with
pandas' exact semantics (a missing value matches a missing candidate; candidates that are not text
never match).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def _is_arrow_text(dtype) -> bool:
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def _text_candidates(candidates, type_: pa.DataType) -> pa.Array | None:
    """The candidates as one pyarrow text array, or None when they are not all text or missing."""
    if isinstance(candidates, (pd.Series, pd.Index)) and _is_arrow_text(candidates.dtype):
        chunked = candidates.array._pa_array
        return (chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)).cast(type_)
    if isinstance(candidates, pa.ChunkedArray):
        candidates = candidates.combine_chunks()
    if isinstance(candidates, pa.Array):
        return candidates.cast(type_) if (pa.types.is_string(candidates.type) or pa.types.is_large_string(candidates.type)
                                          or pa.types.is_null(candidates.type)) else None
    values = list(candidates) if not isinstance(candidates, (list, np.ndarray)) else candidates
    try:
        return pa.array(values, type=type_, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def isin(series: pd.Series, candidates: Iterable) -> pd.Series:
    """``series.isin(set(candidates))``, without a Python loop when `series` is a pyarrow text column."""
    if series.empty:
        return series.isin([])
    if not _is_arrow_text(series.dtype):
        return series.isin(set(candidates))
    chunked = series.array._pa_array
    value_set = _text_candidates(candidates, chunked.type)
    if value_set is None:
        return series.isin(set(candidates))
    if len(value_set) == 0:
        return pd.Series(np.zeros(len(series), dtype=bool), index=series.index, name=series.name)
    found = pc.is_in(chunked, value_set=value_set)
    return pd.Series(np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool), index=series.index,
                     name=series.name)
