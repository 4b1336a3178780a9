"""Targets meet a sample on cells: encode, collapse, and index every margin entry per cell.

:func:`build` is what every target-based method calls first. It resolves shares to totals,
encodes the sample's columns against the targets' levels (values outside them are an error),
collapses to the cell table, and checks that every target level has sample (no empty cells)
and every sample cell has a target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from calib.core.cells import (
    CellTable,
    Encoded,
    collapse,
    encode,
    encode_column,
)
from calib.core.errors import DataError, TargetError
from calib.core.literals import MissingRule
from calib.core.targets import JOINT_SEP, Margin, Targets


@dataclass(frozen=True)
class CellDesign:
    """A sample's cells indexed against resolved targets.

    Attributes
    ----------
    cells : cell table over the categorical target variables (and numeric auxiliaries'
        distinct values); ``cells.weight`` = sum of the input weights per cell.
    row_cell : cell of every kept row (``None`` for a design built from a cell table alone,
        see :func:`from_cells`).
    keep : boolean mask of kept rows of the sample's frame (``None`` from :func:`from_cells`).
    targets : the targets resolved to totals.
    index : per categorical margin, the entry index of every cell.
    numeric : per numeric auxiliary, its value in every cell.
    dropped : rows dropped per variable for missing values (``missing="drop"``).
    row_weight : input weight of every kept row (``None`` from :func:`from_cells`); a cell
        solve that needs the rows (rake's ``cap``) reads it.
    """

    cells: CellTable
    row_cell: np.ndarray | None
    keep: np.ndarray | None
    targets: Targets
    index: tuple[np.ndarray, ...]
    numeric: tuple[np.ndarray, ...]
    dropped: dict
    row_weight: np.ndarray | None = None

    @property
    def categorical(self) -> tuple[Margin, ...]:
        return tuple(m for m in self.targets if not m.numeric)

    @property
    def numeric_margins(self) -> tuple[Margin, ...]:
        return tuple(m for m in self.targets if m.numeric)

    def matrix(self) -> tuple[np.ndarray, np.ndarray, tuple[tuple[str, str], ...]]:
        """Dense auxiliary matrix on cells ``X`` (indicators, then numeric), totals, labels."""
        return (self.auxiliary(), *self.totals_labels())

    def auxiliary(self) -> np.ndarray:
        """Dense auxiliary matrix on cells: indicators of every margin entry, then numeric."""
        m = self.cells.n_cells
        sizes = [mg.values.size for mg in self.categorical]
        X = np.zeros((m, sum(sizes) + len(self.numeric)))
        rows = np.arange(m)
        off = 0
        for size, idx in zip(sizes, self.index, strict=True):
            X[rows, off + idx] = 1.0
            off += size
        for j, val in enumerate(self.numeric):
            X[:, off + j] = val
        return X

    def totals_labels(self) -> tuple[np.ndarray, tuple[tuple[str, str], ...]]:
        """Population totals and ``(margin, level)`` labels of the columns of :meth:`auxiliary`."""
        totals, labels = [], []
        for mg in self.categorical:
            totals.append(mg.values)
            labels.extend((mg.name, lab) for lab in mg.level_labels())
        for mg in self.numeric_margins:
            totals.append(mg.values)
            labels.append((mg.name, ""))
        return np.concatenate(totals) if totals else np.zeros(0), tuple(labels)

    def margin_errors(self, cell_weight: np.ndarray) -> list[tuple[str, str, float, float]]:
        """``(margin, level, achieved, target)`` for every categorical entry."""
        out = []
        for mg, idx in zip(self.categorical, self.index, strict=True):
            got = np.bincount(idx, weights=cell_weight, minlength=mg.values.size)
            out.extend(
                (mg.name, lab, float(g), float(t))
                for lab, g, t in zip(mg.level_labels(), got, mg.values, strict=True)
            )
        for mg, val in zip(self.numeric_margins, self.numeric, strict=True):
            out.append((mg.name, "", float(val @ cell_weight), float(mg.values[0])))
        return out

    def worst(self, cell_weight: np.ndarray) -> tuple[str, str, float]:
        """The margin entry with the largest relative error, and that error."""
        rows = self.margin_errors(cell_weight)
        rel = [abs(g - t) / max(abs(t), 1e-300) for _, _, g, t in rows]
        i = int(np.argmax(rel))
        return rows[i][0], rows[i][1], float(rel[i])


@dataclass(frozen=True)
class RowDesign(CellDesign):
    """A :class:`CellDesign` indexed from a sample's rows (:func:`build`): ``row_cell`` and
    ``keep`` are always set."""

    row_cell: np.ndarray
    keep: np.ndarray


def build(
    frame: pd.DataFrame,
    weights: np.ndarray,
    targets: Targets,
    *,
    population: float | None = None,
    missing: MissingRule = "error",
) -> RowDesign:
    """Index a sample's cells against targets.

    Parameters
    ----------
    frame : the sample's rows.
    weights : input weights per row (the current weights of the sample).
    targets : margins; shares are resolved with ``population``, else ``targets.population``,
        else the total input weight.
    missing : how missing values in weighting variables are handled (see :func:`calib.core.cells.encode`).
    """
    if not isinstance(targets, Targets):
        raise TargetError(f"expected a calib.Targets, got {type(targets).__name__}")
    if len(targets) == 0:
        raise TargetError("targets have no margins")
    cat_vars = targets.categorical_variables
    num_vars = tuple(v for v in targets.numeric_variables if v not in cat_vars)
    enc = encode(frame, cat_vars, levels=targets.levels(), missing=missing) if cat_vars else None
    keep = enc.keep if enc is not None else np.ones(len(frame), dtype=bool)
    dropped = dict(enc.dropped) if enc is not None else {}
    codes = list(enc.codes) if enc is not None else []
    levels = dict(enc.levels) if enc is not None else {}
    num_values = {}
    for v in num_vars:
        if v not in frame.columns:
            raise DataError(f"numeric auxiliary {v!r} is not a column of the data")
        col = frame[v][keep] if not keep.all() else frame[v]
        if not pd.api.types.is_numeric_dtype(col):
            raise DataError(
                f"numeric auxiliary {v!r} has non-numeric values (dtype {col.dtype}); convert it "
                "or give it as a categorical margin with levels"
            )
        arr = col.to_numpy(dtype=float)
        if not np.isfinite(arr).all():
            raise DataError(
                f"numeric auxiliary {v!r}: {int((~np.isfinite(arr)).sum())} missing or infinite "
                "values; impute or drop those rows first"
            )
        c, lv, _ = encode_column(pd.Series(arr), v)
        codes.append(c)
        levels[v] = lv
        num_values[v] = arr
    all_vars = cat_vars + num_vars
    encoded = Encoded(all_vars, tuple(codes), levels, keep, dropped)
    w = np.asarray(weights, dtype=float)
    if not keep.all():
        w = w[keep]
    cells, row_cell = collapse(
        encoded, w, sums={f"__num__{v}": a for v, a in num_values.items()}
    )
    pop = population if population is not None else targets.population
    if pop is None:
        pop = float(w.sum())
    resolved = targets.resolve(pop)
    index = tuple(_margin_index(cells, m, row_cell) for m in resolved if not m.numeric)
    numeric = tuple(
        cells.sums[f"__num__{m.variables[0]}"] / cells.count for m in resolved if m.numeric
    )
    return RowDesign(cells, row_cell, keep, resolved, index, numeric, dropped, w)


def from_cells(
    cells: CellTable,
    targets: Targets,
    *,
    population: float | None = None,
    dropped: dict | None = None,
) -> CellDesign:
    """Index a prebuilt cell table against targets, with no rows (out-of-core samples).

    The cell table must be built over the targets' categorical variables with the targets'
    levels (as :func:`build` encodes them), plus one key per numeric auxiliary whose per-cell
    sum is ``cells.sums["__num__<name>"]``. ``row_cell`` and ``keep`` of the result are None.

    Examples
    --------
    >>> import pandas as pd
    >>> from calib.core.cells import collapse, encode
    >>> from calib.core.targets import Targets
    >>> t = Targets.from_frame(pd.DataFrame({"variable": "x", "level": ["a", "b"],
    ...                                      "total": [3.0, 1.0]}))
    >>> cells, _ = collapse(encode(pd.DataFrame({"x": ["a", "b", "a"]}), ["x"],
    ...                            levels=t.levels()))
    >>> from_cells(cells, t).index[0].tolist()
    [0, 1]
    """
    if not isinstance(targets, Targets):
        raise TargetError(f"expected a calib.Targets, got {type(targets).__name__}")
    if len(targets) == 0:
        raise TargetError("targets have no margins")
    need = targets.categorical_variables + tuple(
        v for v in targets.numeric_variables if v not in targets.categorical_variables
    )
    absent = [v for v in need if v not in cells.variables]
    if absent:
        raise DataError(
            f"the cell table has no key for target variables {absent} (keys: "
            f"{list(cells.variables)}); build the cells over every target variable"
        )
    for v, lv in targets.levels().items():
        if tuple(cells.levels[v]) != tuple(str(x) for x in lv):
            raise DataError(
                f"variable {v!r}: cell levels {list(cells.levels[v])} differ from the target "
                f"levels {list(lv)}; build the cells with levels=targets.levels()"
            )
    pop = population if population is not None else targets.population
    if pop is None:
        pop = float(cells.weight.sum())
    resolved = targets.resolve(pop)
    index = tuple(_margin_index(cells, m, None) for m in resolved if not m.numeric)
    numeric = []
    for m in resolved:
        if m.numeric:
            key = f"__num__{m.variables[0]}"
            if key not in cells.sums:
                raise DataError(
                    f"numeric auxiliary {m.variables[0]!r}: the cell table has no sum {key!r}; "
                    "collect it when building the cells"
                )
            numeric.append(cells.sums[key] / cells.count)
    return CellDesign(cells, None, None, resolved, index, tuple(numeric), dict(dropped or {}))


def _margin_index(cells: CellTable, m: Margin, row_cell: np.ndarray | None) -> np.ndarray:
    flat, shape = cells.joint_index(m.variables)
    lookup = np.full(int(np.prod(shape)), -1, dtype=np.int64)
    pos = []
    for lv in m.levels:
        pos.append(
            np.ravel_multi_index(
                tuple(cells.levels[v].index(x) for v, x in zip(m.variables, lv, strict=True)),
                shape,
            )
        )
    lookup[np.array(pos, dtype=np.int64)] = np.arange(len(m.levels))
    idx = lookup[flat]
    if (idx < 0).any():
        bad = np.unique(flat[idx < 0])
        rows = cells.count
        listing = []
        for b in bad[:20]:
            parts = np.unravel_index(b, shape)
            lab = JOINT_SEP.join(cells.levels[v][p] for v, p in zip(m.variables, parts, strict=True))
            listing.append(f"{lab!r} ({int(rows[flat == b].sum())} rows)")
        raise TargetError(
            f"margin {m.name!r}: sample combinations with no target: {', '.join(listing)}. "
            "Add those levels to the targets, or recode/drop those rows"
        )
    present = np.bincount(idx, weights=cells.weight, minlength=len(m.levels))
    empty = [i for i in range(len(m.levels)) if present[i] <= 0 and m.values[i] > 0]
    if empty:
        labs = [m.level_labels()[i] for i in empty[:20]]
        more = f" and {len(empty) - 20} more" if len(empty) > 20 else ""
        raise TargetError(
            f"margin {m.name!r}: target levels with no sample (empty cells): {labs}{more}. "
            "Collapse them into a neighbouring level (collapse=...) or drop them from the targets"
        )
    zero = [i for i in range(len(m.levels)) if m.values[i] <= 0 and present[i] > 0]
    if zero:
        labs = [m.level_labels()[i] for i in zero[:20]]
        raise TargetError(
            f"margin {m.name!r}: target total is 0 at levels {labs} but the sample has rows "
            "there; drop those rows or merge the levels"
        )
    return idx
