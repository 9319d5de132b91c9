"""`vector.isin`: pandas' own answer for text columns, without a Python loop over the candidates."""

import numpy as np
import pandas as pd
import pytest

from pipelines.quality.vector import isin

POOL = ["a", "b", "é", "", " ", "uuid:1", None]


@pytest.mark.parametrize("seed", range(20))
def test_isin_is_pandas_isin_of_the_candidate_set(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(0, 40)), int(rng.integers(0, 12))
    values = pd.Series([POOL[i] for i in rng.integers(0, len(POOL), n)], index=rng.permutation(n) * 3,
                       name="key", dtype="str")
    picked = [POOL[i] for i in rng.integers(0, len(POOL), m)]
    for candidates in (picked, set(picked), pd.Series(picked, dtype="str"), pd.Series(picked, dtype=object),
                       np.array(picked, dtype=object), pd.Index(pd.Series(picked, dtype="str"))):
        expected = values.isin(set(candidates))
        got = isin(values, candidates)
        assert got.equals(expected) and got.name == expected.name and got.index.equals(expected.index)


def test_non_text_columns_and_candidates_fall_back_to_pandas():
    numbers = pd.Series([1, 2, 3])
    assert isin(numbers, [2, 5]).tolist() == [False, True, False]
    text = pd.Series(["1", "2"], dtype="str")
    assert isin(text, [1, "2"]).tolist() == text.isin({1, "2"}).tolist()
    assert isin(pd.Series([], dtype="str"), ["a"]).tolist() == []
