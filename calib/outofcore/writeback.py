"""Write weights back to files without loading the rows: ``weight = base weight x g(cell)``.

DuckDB joins the per-combination factor ``g`` (raw values of the cell variables -> g of their
cell; a few thousand rows) to the input and streams the result to Parquet (or CSV, by the
suffix of ``out``) with ``COPY ... TO``, ordered by (file, row in file) so the input row order
is kept. Dask does the same join partition by partition (``map_partitions``) and writes one
Parquet part per partition, in order, into a folder marked as calib's (:data:`PARTS_MARKER`).
Both write through :mod:`calib.data.output`: to a temporary beside ``out``, published at the
end; an existing ``out`` is never deleted first, and a user's folder never replaced. A row whose values have no g is an error (never a NaN weight); rows
dropped for missing values (``missing="drop"``) are left out and counted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from calib.core.errors import DataError
from calib.data.output import atomic_dir, atomic_path, check_target, table_kind
from calib.outofcore.combos import Combos
from calib.outofcore.duckdb_cells import (
    columns,
    connect,
    literal,
    quote,
    relation_sql,
)
from calib.outofcore.sources import Paths, expand

G_COL = "__g"
DROP_COL = "__drop"


@dataclass(frozen=True)
class WriteResult:
    """What a write-back wrote: output path, rows written, rows dropped, engine."""

    out: str
    rows: int
    dropped: int
    engine: str


#: The file that marks a folder of Parquet parts as written by :func:`dask_write` (readers
#: skip names starting with a dot); only such a folder is replaced with ``overwrite``.
PARTS_MARKER = ".calib-parts"


def is_parts_folder(path: str | os.PathLike) -> bool:
    """True for a folder written by :func:`dask_write` (it holds :data:`PARTS_MARKER`)."""
    return (Path(path) / PARTS_MARKER).is_file()


def check_out(out: str | os.PathLike, overwrite: bool, *, inputs: Paths | None = None,
              parts: bool = False) -> str:
    """Check the output of a write-back before any work; nothing is deleted here.

    ``out`` is a ``.parquet``/``.csv`` file (``parts``: a ``.parquet`` folder of Dask parts);
    an existing one is refused unless ``overwrite`` (a folder: unless it is calib's parts
    folder), and so is an output that is one of ``inputs`` (files, folders or globs).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> check_out(d, overwrite=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    calib.core.errors.DataError: --out '...': unknown extension '(none)'; use .csv or .parquet
    """
    items = [] if inputs is None else (
        [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs))
    if parts:
        if table_kind(out) != "parquet":
            raise DataError(f"--out {os.fspath(out)!r}: Dask writes a folder of Parquet parts; "
                            "give a .parquet name")
        check_target(out, overwrite, kind="store", inputs=items, store_marker=is_parts_folder)
    else:
        check_target(out, overwrite, inputs=items)
    return os.fspath(out)


def lookup_frame(combos: Combos, g: np.ndarray) -> pd.DataFrame:
    """Every combination's raw values with g of its cell (NaN and ``__drop`` for dropped)."""
    cols = [c for c in combos.frame.columns if not c.startswith("__")]
    out = combos.frame[cols].reset_index(drop=True).copy()
    kept = combos.cell >= 0
    gg = np.full(len(out), np.nan)
    gg[kept] = np.asarray(g, dtype=float)[combos.cell[kept]]
    out[G_COL] = gg
    out[DROP_COL] = ~kept
    return out


def duckdb_write(
    files: Paths,
    combos: Combos,
    g: np.ndarray,
    out: str | os.PathLike,
    *,
    variables: Sequence[str],
    base_weight: str | None = None,
    weight_column: str = "weight",
    overwrite: bool = False,
    memory_limit: str | None = None,
) -> WriteResult:
    """Stream ``files`` to one Parquet file ``out`` with ``weight_column = base x g``.

    An input column named ``weight_column`` is replaced. Rows keep the input order.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> from calib.outofcore.duckdb_cells import duckdb_cells
    >>> d = tempfile.mkdtemp(); src = os.path.join(d, "in.parquet")
    >>> pd.DataFrame({"x": ["b", "a", "b"]}).to_parquet(src)
    >>> cells, combos = duckdb_cells(src, ["x"])
    >>> r = duckdb_write(src, combos, [2.0, 0.5], os.path.join(d, "out.parquet"),
    ...                  variables=["x"])
    >>> pd.read_parquet(r.out)["weight"].tolist()
    [0.5, 2.0, 0.5]
    """
    files = expand(files)
    out = check_out(out, overwrite, inputs=files)
    fmt = "parquet" if table_kind(out) == "parquet" else "csv, HEADER"
    con = connect(memory_limit)
    have = columns(con, files)
    look = lookup_frame(combos, g)
    con.register("__calib_g", look)
    on = " AND ".join(
        f"t.{quote(v)} IS NOT DISTINCT FROM m.{quote(v)}" for v in variables
    ) or "TRUE"
    file_list = "[" + ", ".join(literal(f) for f in files) + "]"
    order = f"list_position({file_list}, t.filename), t.file_row_number"
    keep_cols = [c for c in have if c != weight_column]
    sel = ", ".join(f"t.{quote(c)}" for c in keep_cols)
    msg = literal(
        "calib: a row's cell has no weight adjustment (its values are not in the cell table); "
        "rebuild the cells from the same files"
    )
    base = "1.0" if base_weight is None else f"CAST(t.{quote(base_weight)} AS DOUBLE)"
    wexpr = (
        f"CASE WHEN m.{quote(G_COL)} IS NULL THEN error({msg}) "
        f"ELSE {base} * m.{quote(G_COL)} END"
    )
    src = relation_sql(files, row_numbers=True)
    q = (
        f"SELECT {sel}{', ' if sel else ''}{wexpr} AS {quote(weight_column)} "
        f"FROM {src} t LEFT JOIN __calib_g m ON {on} "
        f"WHERE m.{quote(DROP_COL)} IS DISTINCT FROM TRUE ORDER BY {order}"
    )
    dropped = int(combos.frame.loc[combos.cell < 0, "__n"].sum())
    expected = int(combos.frame["__n"].sum()) - dropped
    with atomic_path(out, overwrite=overwrite, what="--out") as tmp:
        counted = con.execute(f"COPY ({q}) TO {literal(str(tmp))} (FORMAT {fmt})").fetchone()
        assert counted is not None  # COPY returns the number of rows written
        rows = int(counted[0])
        if rows != expected:  # the temporary is removed, nothing is published
            raise DataError(
                f"write-back wrote {rows} rows but the cell table has {expected}; the input "
                "files changed since the cells were built. Rebuild the cells and weight again"
            )
    return WriteResult(out, rows, dropped, "duckdb")


def _join_part(part: pd.DataFrame, look: pd.DataFrame, variables, base_weight, weight_column):
    idx = part.index
    merged = part[list(variables)].merge(look, on=list(variables), how="left")
    g = merged[G_COL].to_numpy(dtype=float)
    drop = merged[DROP_COL].fillna(False).to_numpy(dtype=bool)
    bad = np.isnan(g) & ~drop
    if bad.any():
        raise DataError(
            f"{int(bad.sum())} rows have values of {list(variables)} with no weight adjustment "
            "(not in the cell table); rebuild the cells from the same files"
        )
    base = (
        np.ones(len(part)) if base_weight is None
        else part[base_weight].to_numpy(dtype=float, na_value=np.nan)
    )
    res = part.drop(columns=[weight_column], errors="ignore").copy()
    res[weight_column] = base * g
    res.index = idx
    return res[~drop]


def dask_write(
    files: Paths,
    combos: Combos,
    g: np.ndarray,
    out: str | os.PathLike,
    *,
    variables: Sequence[str],
    base_weight: str | None = None,
    weight_column: str = "weight",
    overwrite: bool = False,
    client: Any = None,
) -> WriteResult:
    """Write ``files`` with weights to the Parquet directory ``out`` (one part per partition).

    Reading the directory (``pandas.read_parquet(out)``) gives the rows in input order.
    """
    from dask.dataframe.dispatch import make_meta

    from calib.outofcore.dask_cells import read

    out = check_out(out, overwrite, inputs=expand(files), parts=True)
    ddf = read(files)
    look = lookup_frame(combos, g)
    meta = make_meta(ddf).drop(columns=[weight_column], errors="ignore").copy()
    meta[weight_column] = np.array([], dtype=float)
    res = ddf.map_partitions(
        _join_part, look, list(variables), base_weight, weight_column, meta=meta
    )
    with atomic_dir(out, overwrite=overwrite, is_store=is_parts_folder, what="--out") as tmp:
        task = res.to_parquet(str(tmp), write_index=False, compute=False)
        if client is not None:
            client.compute(task).result()
        else:
            task.compute()
        (tmp / PARTS_MARKER).write_text("calib dask_write parts\n")
        rows = int(sum(
            pq.ParquetFile(tmp / f).metadata.num_rows
            for f in os.listdir(tmp) if f.endswith(".parquet")
        ))
    dropped = int(combos.frame.loc[combos.cell < 0, "__n"].sum())
    return WriteResult(out, rows, dropped, "dask")


__all__ = ["PARTS_MARKER", "duckdb_write", "dask_write", "WriteResult", "check_out",
           "is_parts_folder", "lookup_frame"]
