"""Cells across a cluster with Dask: a distributed group-by over Parquet/CSV files.

For data spread over machines. Each worker groups its partitions by the raw values of the
adjustment variables; only the distinct combinations come back to the client, where
:func:`calib.outofcore.combos.cells_from_combos` encodes them exactly as the in-memory path.
Pass a ``distributed.Client`` (``Client("tcp://host:8786")`` for an existing cluster); without
one, Dask's default scheduler of the current process is used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from calib.core.cells import CellTable
from calib.core.errors import DataError
from calib.core.literals import MissingRule
from calib.core.optional import require
from calib.core.util import CSV_NA_VALUES
from calib.data.tables import to_numeric
from calib.outofcore.combos import (
    BAD_COL,
    N_COL,
    W_COL,
    Combos,
    cells_from_combos,
)
from calib.outofcore.duckdb_cells import Products, check_columns
from calib.outofcore.sources import Paths, expand, file_format


def read(files: Paths, *, blocksize: str | int | None = None) -> Any:
    """A Dask DataFrame over the files (one or more partitions per file, in file order)."""
    dd = require("dask.dataframe", "engine='dask' (--engine dask)")
    files = expand(files)
    # dask's annotations say str for both; it documents (and takes) a bool and a byte count
    if file_format(files) == "parquet":
        return dd.read_parquet(files, split_row_groups=True)  # pyright: ignore[reportArgumentType]
    # every column as text, only empty cells missing: the CSV rule of calib.data.tables.read_table
    return dd.read_csv(files, blocksize=blocksize or "64MB",  # pyright: ignore[reportArgumentType]
                       dtype=str, keep_default_na=False,
                       na_values=list(CSV_NA_VALUES))


def _prepare(part: pd.DataFrame, variables, base_weight, products) -> pd.DataFrame:
    w = (
        np.ones(len(part))
        if base_weight is None
        else pd.to_numeric(part[base_weight], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    )
    out = part[list(variables)].copy()
    out[N_COL] = 1
    out[W_COL] = w
    out[BAD_COL] = (~np.isfinite(w) | (w < 0)).astype(np.int64)
    for name, facs in (products or {}).items():
        val = np.ones(len(part))
        for f in facs:
            # CSV columns arrive as text: converted, text that is no number refused
            val = val * (w if f == "__w" else to_numeric(part, f, "a numeric column").to_numpy())
        out[name] = val
    return out


def group_combos(
    files: Paths,
    variables: Sequence[str],
    *,
    base_weight: str | None = None,
    products: Products | None = None,
    client: Any = None,
) -> pd.DataFrame:
    """Distributed group-by of the raw values of ``variables`` (counts and sums)."""
    ddf = read(files)
    need = list(variables) + ([base_weight] if base_weight else [])
    for facs in (products or {}).values():
        need += [f for f in facs if f != "__w"]
    check_columns(list(ddf.columns), list(dict.fromkeys(need)))
    if not variables:
        raise DataError("the Dask engine needs at least one cell variable")
    prep = ddf.map_partitions(_prepare, list(variables), base_weight, products)
    sums = [N_COL, W_COL, BAD_COL, *list(products or {})]
    agg = prep.groupby(list(variables), dropna=False, observed=True)[sums].sum(split_out=1)
    if client is not None:
        out = client.compute(agg).result()
    else:
        out = agg.compute()
    return out.reset_index()


def dask_cells(
    files: Paths,
    variables: Sequence[str],
    *,
    levels: Mapping[str, Sequence[str]] | None = None,
    missing: MissingRule = "error",
    base_weight: str | None = None,
    numeric: Sequence[str] = (),
    products: Products | None = None,
    client: Any = None,
) -> tuple[CellTable, Combos]:
    """Build the cell table of files with a Dask group-by (same result as the DuckDB engine).

    Parameters are those of :func:`calib.outofcore.duckdb_cells.duckdb_cells`; ``client`` is a
    ``distributed.Client`` (None: Dask's current default scheduler).

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> pd.DataFrame({"x": ["b", "a", "b"]}).to_parquet(os.path.join(d, "p.parquet"))
    >>> cells, _ = dask_cells(os.path.join(d, "p.parquet"), ["x"])
    >>> cells.levels["x"], cells.count.tolist()
    (('a', 'b'), [1, 2])
    """
    raw = group_combos(files, variables, base_weight=base_weight, products=products,
                       client=client)
    return cells_from_combos(
        raw,
        variables,
        levels=levels,
        missing=missing,
        numeric=numeric,
        sums=tuple(products or {}),
        weight_name=base_weight or "weight",
    )


__all__ = ["dask_cells", "group_combos", "read"]
