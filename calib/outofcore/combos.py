"""From grouped raw values to the cell table, exactly as :func:`calib.core.cells.encode` encodes rows.

An out-of-core engine (DuckDB, Dask) groups the rows by the *raw* values of the adjustment
variables and returns one small frame: the distinct value combinations, their row counts and
per-combination sums. :func:`cells_from_combos` encodes those values with
:func:`calib.core.cells.encode_column` (so levels are sorted / matched and formatted exactly as in
memory), applies the missing-value policy with row counts, and merges combinations that fall in
the same cell. The result is the same :class:`~calib.core.cells.CellTable` (level lists, codes,
cell order, counts) the in-memory path builds, plus the cell of every combination, which the
write-back joins to the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from calib.core.cells import (
    CellTable,
    encode_column,
    format_level,
    missing_mask,
)
from calib.core.errors import DataError
from calib.core.literals import MissingRule

#: Reserved column names of a combination frame.
N_COL = "__n"
W_COL = "__w"
BAD_COL = "__bad"


@dataclass(frozen=True)
class Combos:
    """Distinct raw value combinations of the adjustment variables and their cells.

    Attributes
    ----------
    frame : one row per distinct combination: the raw values (as the engine read them),
        ``__n`` (rows) and ``__w`` (sum of base weights).
    cell : cell of each combination in the cell table, ``-1`` where the rows were dropped
        for missing values (``missing="drop"``).
    dropped : rows dropped per variable for missing values.
    """

    frame: pd.DataFrame
    cell: np.ndarray
    dropped: Mapping[str, int]

    def values_frame(self, g: np.ndarray, column: str = "__g") -> pd.DataFrame:
        """The raw value columns and ``g`` of each kept combination's cell (for a join)."""
        keep = self.cell >= 0
        out = self.frame.loc[keep, [c for c in self.frame.columns if not c.startswith("__")]]
        out = out.reset_index(drop=True)
        out[column] = np.asarray(g, dtype=float)[self.cell[keep]]
        return out


def _check_levels(values: pd.Series, n: np.ndarray, name: str, levels: Sequence[str]) -> None:
    miss = missing_mask(values)
    text = np.array([format_level(x) for x in values.astype(object)], dtype=object)
    allowed = {str(x) for x in levels}
    bad = ~miss & ~np.isin(text, list(allowed))
    if bad.any():
        counts = pd.Series(n[bad]).groupby(text[bad]).sum().sort_index()
        listing = ", ".join(f"{t!r} ({int(c)} rows)" for t, c in counts.items())
        raise DataError(
            f"variable {name!r}: values not among the expected levels {list(levels)}: "
            f"{listing}. Recode them with a Codebook or add the levels to the targets."
        )


def cells_from_combos(
    combos: pd.DataFrame,
    variables: Sequence[str],
    *,
    levels: Mapping[str, Sequence[str]] | None = None,
    missing: MissingRule = "error",
    numeric: Sequence[str] = (),
    sums: Sequence[str] = (),
    weight_name: str = "weight",
) -> tuple[CellTable, Combos]:
    """Build the cell table from grouped raw values.

    Parameters
    ----------
    combos : one row per distinct combination of raw values of ``variables``, with ``__n``
        (row count), ``__w`` (sum of base weights), ``__bad`` (rows whose base weight is
        missing, infinite or negative; optional) and the per-combination sums named in ``sums``.
    variables : the cell variables, in key order (categorical first, then ``numeric``).
    levels : fixed level lists (e.g. ``targets.levels()``); values outside are an error
        naming them with their row counts.
    missing : ``"error"``, ``"drop"`` or ``"level"``, as in :func:`calib.core.cells.encode`.
    numeric : variables among ``variables`` that are numeric auxiliaries: their distinct
        values are cell keys and ``__num__<name>`` (sum of the value per cell) is added.
    sums : further per-combination sum columns to carry into ``CellTable.sums``.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"x": ["b", "a", None], "__n": [2, 1, 1], "__w": [2.0, 1.0, 1.0]})
    >>> cells, comb = cells_from_combos(raw, ["x"], missing="drop")
    >>> cells.levels["x"], cells.count.tolist(), comb.cell.tolist(), dict(comb.dropped)
    (('a', 'b'), [1, 2], [1, 0, -1], {'x': 1})
    """
    if missing not in ("error", "drop", "level"):
        raise DataError(f"missing={missing!r}: use 'error', 'drop' or 'level'")
    variables = tuple(variables)
    levels = dict(levels or {})
    combos = combos.reset_index(drop=True)
    n = combos[N_COL].to_numpy(dtype=np.int64)
    if BAD_COL in combos.columns and (nbad := int(combos[BAD_COL].sum())) > 0:
        raise DataError(
            f"{weight_name}: {nbad} missing, infinite or negative base weights; fix or drop "
            "those rows"
        )
    codes: list[np.ndarray] = []
    lv: dict[str, tuple[str, ...]] = {}
    keep = np.ones(len(combos), dtype=bool)
    miss_counts: dict[str, int] = {}
    num_values: dict[str, np.ndarray] = {}
    for v in variables:
        col = combos[v]
        if v in numeric:
            # CSV values arrive as text (the one CSV rule); text that is no number is refused
            arr = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            if not np.isfinite(arr).all():
                bad = int(n[~np.isfinite(arr)].sum())
                raise DataError(
                    f"numeric auxiliary {v!r}: {bad} missing, infinite or non-numeric values; "
                    "impute or drop those rows first"
                )
            num_values[v] = arr
            c, lvl, m = encode_column(pd.Series(arr), v)
        else:
            if v in levels:
                _check_levels(col, n, v, levels[v])
            c, lvl, m = encode_column(col, v, levels.get(v), missing)
        codes.append(c)
        lv[v] = lvl
        if missing != "level" and m.any() and v not in numeric:
            miss_counts[v] = int(n[m].sum())
            keep &= ~m
    if miss_counts and missing == "error":
        listing = ", ".join(f"{v!r}: {k} rows" for v, k in miss_counts.items())
        raise DataError(
            f"missing values in weighting variables ({listing}). Pass missing='drop' to drop "
            "those rows (the count is reported) or missing='level' to keep them as their own level"
        )
    kept = np.flatnonzero(keep)
    stacked = np.column_stack([c[kept] for c in codes]) if codes else np.zeros((kept.size, 0))
    stacked = stacked.astype(np.int64).reshape(kept.size, len(variables))
    if kept.size:
        keys, inv = np.unique(stacked, axis=0, return_inverse=True)
        inv = inv.ravel()
    else:
        keys, inv = np.zeros((0, len(variables)), dtype=np.int64), np.zeros(0, dtype=np.int64)
    m_cells = keys.shape[0]
    cell = np.full(len(combos), -1, dtype=np.int64)
    cell[kept] = inv
    count = np.bincount(inv, weights=n[kept], minlength=m_cells).round().astype(np.int64)
    weight = np.bincount(inv, weights=combos[W_COL].to_numpy(dtype=float)[kept], minlength=m_cells)
    extra: dict[str, np.ndarray] = {}
    for name in sums:
        extra[name] = np.bincount(
            inv, weights=combos[name].to_numpy(dtype=float)[kept], minlength=m_cells
        )
    for v in numeric:
        val = num_values[v][kept] * n[kept]
        extra[f"__num__{v}"] = np.bincount(inv, weights=val, minlength=m_cells)
    table = CellTable(
        variables=variables,
        levels=lv,
        keys=np.asarray(keys, dtype=np.int64).reshape(m_cells, len(variables)),
        count=count,
        weight=weight,
        sums=extra,
    )
    return table, Combos(combos, cell, miss_counts if missing == "drop" else {})


__all__ = ["Combos", "cells_from_combos", "N_COL", "W_COL", "BAD_COL"]
