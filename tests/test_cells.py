import numpy as np
import pandas as pd
import pytest

from calib.core.cells import (
    broadcast,
    collapse,
    encode,
    format_level,
)
from calib.core.errors import DataError


def _frame(n=5000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.choice(["x", "y", "z"], n),
            "b": rng.integers(0, 4, n),
            "c": pd.Categorical(rng.choice(["lo", "hi"], n), categories=["lo", "hi"]),
        }
    )


def test_collapse_matches_groupby():
    df = _frame()
    w = np.random.default_rng(1).uniform(0.5, 2, len(df))
    enc = encode(df, ["a", "b", "c"])
    cells, row_cell = collapse(enc, w, sums={"w2": w**2})
    ref = (
        df.assign(w=w, w2=w**2)
        .groupby(["a", "b", "c"], observed=True)
        .agg(count=("w", "size"), weight=("w", "sum"), w2=("w2", "sum"))
        .reset_index()
    )
    got = cells.to_frame()
    got["b"] = got["b"].astype(int)
    ref["b"] = ref["b"].astype(int)
    m = got.merge(ref, on=["a", "b", "c"], suffixes=("", "_ref"))
    assert len(m) == len(ref) == cells.n_cells
    np.testing.assert_array_equal(m["count"], m["count_ref"])
    np.testing.assert_allclose(m["weight"], m["weight_ref"], rtol=1e-12)
    np.testing.assert_allclose(m["w2"], m["w2_ref"], rtol=1e-12)
    # broadcast gives each row its cell's values
    np.testing.assert_allclose(
        np.bincount(row_cell, weights=broadcast(cells.weight, row_cell) / cells.count[row_cell]),
        cells.weight,
    )


def test_category_order_and_numeric_text():
    df = pd.DataFrame({"c": pd.Categorical(["hi", "lo"], categories=["lo", "hi"]), "n": [2.0, 10.0]})
    enc = encode(df, ["c", "n"])
    assert enc.levels["c"] == ("lo", "hi")
    assert enc.levels["n"] == ("2", "10")  # numeric order, formatted as text
    assert format_level(1.5) == "1.5"


def test_missing_values_policy():
    df = pd.DataFrame({"a": ["x", None, "Don't know", "y", ""], "b": ["1", "2", "3", "4", "5"]})
    with pytest.raises(DataError, match=r"'a': 3 rows"):
        encode(df, ["a", "b"])
    enc = encode(df, ["a", "b"], missing="drop")
    assert enc.dropped == {"a": 3} and enc.keep.tolist() == [True, False, False, True, False]
    enc = encode(df, ["a"], missing="level")
    assert "Missing" in enc.levels["a"] and enc.codes[0].min() >= 0


def test_unknown_level_is_named():
    df = pd.DataFrame({"a": ["x", "q", "q"]})
    with pytest.raises(DataError, match=r"'q' \(2 rows\)"):
        encode(df, ["a"], levels={"a": ["x", "y"]})


def test_missing_column_named():
    with pytest.raises(DataError, match="'zz'"):
        encode(pd.DataFrame({"a": [1]}), ["zz"])


def test_many_variables_fallback_to_unique():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({f"v{i}": rng.integers(0, 1000, 200) for i in range(8)})
    enc = encode(df, list(df.columns))
    cells, row_cell = collapse(enc)
    assert cells.count.sum() == 200
    assert cells.n_cells == len(df.drop_duplicates())
