"""Cells out of core with DuckDB: one GROUP BY over Parquet/CSV files (embedded, no server).

DuckDB streams the files and groups rows by the raw values of the adjustment variables; only
the distinct combinations (thousands of rows) come back to Python, where
:func:`calib.outofcore.combos.cells_from_combos` encodes them exactly as the in-memory path.
DuckDB spills to disk when the aggregate does not fit its memory limit.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence

import duckdb
import pandas as pd

from calib.core.cells import CellTable
from calib.core.errors import DataError
from calib.core.literals import MissingRule
from calib.outofcore.combos import (
    BAD_COL,
    N_COL,
    W_COL,
    Combos,
    cells_from_combos,
)
from calib.outofcore.sources import Paths, expand, file_format

#: Per-row products a caller can sum per cell: name -> factors (column names; ``"__w"`` is
#: the base weight). E.g. ``{"wy": ("__w", "y")}``.
Products = Mapping[str, Sequence[str]]


def quote(name: str) -> str:
    """Quote an identifier for DuckDB SQL."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(text: str) -> str:
    """Quote a string literal for DuckDB SQL."""
    return "'" + str(text).replace("'", "''") + "'"


def connect(memory_limit: str | None = None, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-process DuckDB connection (optionally with a memory limit, e.g. ``"1GB"``).

    DuckDB spills what does not fit the limit (the write-back's sort) to a folder under the
    system temp directory.
    """
    con = duckdb.connect()
    spill = os.path.join(tempfile.gettempdir(), f"calib_duckdb_{os.getpid()}")
    con.execute(f"SET temp_directory={literal(spill)}")
    if memory_limit:
        con.execute(f"SET memory_limit={literal(memory_limit)}")
    if threads:
        con.execute(f"SET threads={int(threads)}")
    return con


def relation_sql(files: Sequence[str], *, row_numbers: bool = False) -> str:
    """SQL table expression reading ``files`` (Parquet or CSV)."""
    lst = "[" + ", ".join(literal(f) for f in files) + "]"
    kind = file_format(files)
    if kind == "parquet":
        extra = ", filename=true, file_row_number=true" if row_numbers else ""
        return f"read_parquet({lst}{extra})"
    if row_numbers:
        raise DataError(
            "writing weights back needs Parquet input (DuckDB numbers Parquet rows in file "
            "order); convert the CSV files to Parquet or use engine='memory'"
        )
    # every column as text, only empty cells NULL: the CSV rule of calib.data.tables.read_table
    return f"read_csv({lst}, auto_detect=true, all_varchar=true, header=true)"


def columns(con: duckdb.DuckDBPyConnection, files: Sequence[str]) -> list[str]:
    """Column names of the input files."""
    return [d[0] for d in con.execute(f"SELECT * FROM {relation_sql(files)} LIMIT 0").description]


def weight_sql(base_weight: str | None) -> str:
    """SQL of the base weight of a row (1.0 when there is none)."""
    return "1.0" if base_weight is None else f"CAST({quote(base_weight)} AS DOUBLE)"


def product_sql(factors: Sequence[str], base_weight: str | None) -> str:
    """SQL of a product of columns (``"__w"`` is the base weight)."""
    parts = [
        weight_sql(base_weight) if f == "__w" else f"CAST({quote(f)} AS DOUBLE)" for f in factors
    ]
    return " * ".join(parts) if parts else "1.0"


def check_columns(have: Sequence[str], need: Sequence[str]) -> None:
    """Raise naming the columns of ``need`` that the files lack."""
    absent = [v for v in need if v not in have]
    if absent:
        raise DataError(
            f"variables {absent} are not columns of the input files (columns: {list(have)}); "
            "rename them or recode the files first"
        )


def group_combos(
    files: Paths,
    variables: Sequence[str],
    *,
    base_weight: str | None = None,
    products: Products | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """GROUP BY the raw values of ``variables``: counts, base-weight sums, product sums."""
    files = expand(files)
    con = con or connect()
    need = list(variables) + ([base_weight] if base_weight else [])
    for facs in (products or {}).values():
        need += [f for f in facs if f != "__w"]
    check_columns(columns(con, files), list(dict.fromkeys(need)))
    w = weight_sql(base_weight)
    sel = [quote(v) for v in variables]
    aggs = [
        f"COUNT(*) AS {quote(N_COL)}",
        f"SUM({w}) AS {quote(W_COL)}",
        f"SUM(CASE WHEN {w} IS NULL OR isnan({w}) OR isinf({w}) OR {w} < 0 THEN 1 ELSE 0 END)"
        f" AS {quote(BAD_COL)}",
    ]
    for name, facs in (products or {}).items():
        aggs.append(f"SUM({product_sql(facs, base_weight)}) AS {quote(name)}")
    group = ", ".join(sel) if sel else "()"
    q = f"SELECT {', '.join(sel + aggs)} FROM {relation_sql(files)} GROUP BY {group}"
    return con.execute(q).df()


def duckdb_cells(
    files: Paths,
    variables: Sequence[str],
    *,
    levels: Mapping[str, Sequence[str]] | None = None,
    missing: MissingRule = "error",
    base_weight: str | None = None,
    numeric: Sequence[str] = (),
    products: Products | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> tuple[CellTable, Combos]:
    """Build the cell table of files on disk with a DuckDB GROUP BY.

    Parameters
    ----------
    files : Parquet or CSV paths / globs (see :func:`calib.outofcore.sources.expand`).
    variables : cell variables (categorical, then ``numeric`` auxiliaries).
    levels, missing : as in :func:`calib.core.cells.encode`.
    base_weight : column of base weights (ones if None).
    products : per-cell sums of row products to collect, e.g. ``{"wy": ("__w", "y")}``.

    Returns
    -------
    (CellTable, Combos) -- the same cell table as ``collapse(encode(frame, ...))`` in memory.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> pd.DataFrame({"x": ["b", "a", "b"]}).to_parquet(os.path.join(d, "p.parquet"))
    >>> cells, _ = duckdb_cells(os.path.join(d, "*.parquet"), ["x"])
    >>> cells.levels["x"], cells.count.tolist()
    (('a', 'b'), [1, 2])
    """
    raw = group_combos(files, variables, base_weight=base_weight, products=products, con=con)
    return cells_from_combos(
        raw,
        variables,
        levels=levels,
        missing=missing,
        numeric=numeric,
        sums=tuple(products or {}),
        weight_name=base_weight or "weight",
    )


__all__ = ["duckdb_cells", "group_combos", "connect", "quote", "literal", "relation_sql"]
