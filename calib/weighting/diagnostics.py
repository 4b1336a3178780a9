"""Weight diagnostics: Kish effective sample size and design effect, weight summary, margin
table before/after weighting, absolute standardized mean differences (ASMD).

Definitions
-----------
* Kish (1965) effective sample size ``n_eff = (sum w)^2 / sum w^2`` and design effect due to
  weighting ``deff = n / n_eff = 1 + CV^2`` where ``CV`` is the coefficient of variation of the
  weights with the population (``1/n``) variance.
* ASMD of a categorical variable: the mean over its levels of
  ``|p_w - p_ref| / sqrt(p_ref (1 - p_ref))``, the difference of the weighted share of a level
  and its reference share divided by the reference's standard deviation of the level's
  indicator. This is the definition of the ``balance`` package (``asmd`` with
  ``std_type="target"``, aggregated by main covariate as a mean over the dummies). Levels with
  a reference share of 0 or 1 have no spread and are left out of the mean. For a numeric
  variable ``|mean_w - mean_ref| / sd_ref`` (weighted reference standard deviation).

References: Kish (1965) *Survey Sampling*; Stuart (2010) Stat. Sci. 25:1-21 (standardized
differences); Sarig, Galili & Eilat (2023) *balance* (arXiv 2307.06024).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, cast

import numpy as np
import pandas as pd

from calib.core.cells import Encoded, collapse, format_level
from calib.core.errors import DataError
from calib.core.sample import check_weights
from calib.core.targets import JOINT_SEP, Targets
from calib.core.util import kish_ess as _kish
from calib.core.util import kish_ess_sums

#: Multiples of the mean weight counted by :func:`weight_summary`.
SHARE_ABOVE = (3, 5, 10)
#: Level text given to missing values in the tables.
MISSING = "<missing>"


def _weights(w: Any) -> np.ndarray:
    a = np.asarray(w, dtype=float).ravel()
    if a.size == 0:
        raise DataError("weights: no values; diagnostics need at least one weight")
    return check_weights(a, "weights")


def kish_ess(w: Sequence[float] | np.ndarray | pd.Series) -> float:
    """Kish effective sample size ``(sum w)^2 / sum w^2``.

    Examples
    --------
    >>> kish_ess([1, 1, 2, 4])
    2.909090909090909
    """
    return _kish(_weights(w))


def design_effect(w: Sequence[float] | np.ndarray | pd.Series) -> float:
    """Kish design effect due to weighting ``n / n_eff = 1 + CV^2``.

    Examples
    --------
    >>> design_effect([1, 1, 2, 4])
    1.375
    """
    a = _weights(w)
    return float(a.size * (a**2).sum() / a.sum() ** 2)


def weight_summary(w: Sequence[float] | np.ndarray | pd.Series) -> pd.Series:
    """n, total, min, max, mean, CV, max/min ratio, n_eff, deff and the share of weights above
    3, 5 and 10 times the mean weight (``above_3x_mean`` ...), as a Series.

    Examples
    --------
    >>> s = weight_summary([1, 1, 2, 4])
    >>> float(s["cv"]), float(s["max_min_ratio"]), float(s["above_3x_mean"])
    (0.6123724356957945, 4.0, 0.0)
    """
    a = _weights(w)
    mean = a.mean()
    out: dict[str, float] = {
        "n": float(a.size),
        "total": float(a.sum()),
        "min": float(a.min()),
        "max": float(a.max()),
        "mean": float(mean),
        "cv": float(a.std() / mean),
        "max_min_ratio": float(a.max() / a.min()) if a.min() > 0 else float("inf"),
        "n_eff": kish_ess(a),
        "deff": design_effect(a),
    }
    for k in SHARE_ABOVE:
        out[f"above_{k}x_mean"] = float(np.mean(a > k * mean))
    return pd.Series(out, name="value")


#: The weightings every table compares: row counts, base weights, current weights.
KINDS = ("unweighted", "before", "after")


@dataclass(frozen=True)
class CellSums:
    """Per-cell sums the margin table and the ASMD are computed from (no row-level text).

    Attributes
    ----------
    variables : the categorical variables of the cells.
    levels : level text per variable, in code order (missing values: :data:`MISSING`).
    keys : (m, k) codes of each cell.
    sums : kind -> per-cell sum of that kind's weights (``"unweighted"``: row counts, needed;
        ``"before"``: base weights; ``"after"``: current weights).
    totals : kind -> total of that kind's weights over all rows.
    numeric : numeric variable -> ``{"n": rows with a finite value, kind: (sum of weights,
        sum of weight x value) over those rows}``.
    row_cell : the cell of every row, or None (out of core): it gives each cell's first row,
        which orders the levels a margin's targets lack by first appearance, as a row groupby
        would (code order without it).

    Examples
    --------
    >>> import numpy as np
    >>> cs = CellSums(("a", "b"), {"a": ("x", "y"), "b": ("u",)},
    ...               np.array([[0, 0], [1, 0]]), {"unweighted": np.array([1.0, 3.0])},
    ...               {"unweighted": 4.0})
    >>> cs.shares(["a"], "unweighted").to_dict()
    {'x': 0.25, 'y': 0.75}
    """

    variables: tuple[str, ...]
    levels: Mapping[str, tuple[str, ...]]
    keys: np.ndarray
    sums: Mapping[str, np.ndarray]
    totals: Mapping[str, float]
    numeric: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    row_cell: np.ndarray | None = None
    _groups: dict = field(default_factory=dict, repr=False, compare=False)

    def first_rows(self) -> np.ndarray | None:
        """The first row of each cell (computed once, when a margin has levels to order)."""
        if self.row_cell is None:
            return None
        if "first" not in self._groups:
            self._groups["first"] = _first_rows(self.row_cell, self.keys.shape[0])
        return self._groups["first"]

    def appearance(self, variables: Sequence[str]) -> np.ndarray | None:
        """First row of each of :meth:`group`'s levels (None without ``row_cell``)."""
        first = self.first_rows()
        if first is None:
            return None
        labels, inv, live = self.group(variables)
        out = np.full(len(labels), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(out, inv, first[live])
        return out

    def group(self, variables: Sequence[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Level text of the occupied (joint) levels of ``variables`` (in code order), the
        level of each occupied cell and the occupied cells' positions."""
        absent = [v for v in variables if v not in self.variables]
        if absent:
            raise DataError(
                f"variable {absent[0]!r} is not in the data; add the column or drop the margin"
            )
        key = tuple(variables)
        if key not in self._groups:  # a margin is grouped once for all its tables
            self._groups[key] = self._group(key)
        return self._groups[key]

    def _group(self, variables: tuple[str, ...]) -> tuple[list[str], np.ndarray, np.ndarray]:
        live = np.flatnonzero(self.sums["unweighted"] > 0)
        cols = [self.variables.index(v) for v in variables]
        shape = tuple(len(self.levels[v]) for v in variables)
        size = int(np.prod(shape, dtype=object)) if shape else 1
        if live.size == 0:
            return [], np.zeros(0, dtype=np.int64), live
        if size < 2**62:  # one integer per cell: its joint level (C order)
            flat = np.zeros(live.size, dtype=np.int64)
            for j, k in zip(cols, shape, strict=True):
                flat *= k
                flat += self.keys[live, j]
            if size <= max(8 * live.size, 1 << 16):
                present = np.zeros(size, dtype=bool)
                present[flat] = True
                uniq_flat = np.flatnonzero(present)
                lookup = np.zeros(size, dtype=np.int64)
                lookup[uniq_flat] = np.arange(uniq_flat.size)
                inv = lookup[flat]
            else:
                uniq_flat, inv = np.unique(flat, return_inverse=True)
            uniq = np.column_stack(np.unravel_index(uniq_flat, shape)) if shape else np.zeros(
                (1, 0), dtype=np.int64)
        else:
            uniq, inv = np.unique(self.keys[np.ix_(live, cols)], axis=0, return_inverse=True)
        inv = inv.ravel()
        text = [self.levels[v] for v in variables]
        labels = [JOINT_SEP.join(t[c] for t, c in zip(text, row, strict=True))
                  for row in uniq.tolist()]
        return labels, inv, live

    def shares(self, variables: Sequence[str], kind: str) -> pd.Series:
        """Share of each occupied (joint) level of ``variables`` in the ``kind`` weights."""
        labels, inv, live = self.group(variables)
        s = np.bincount(inv, weights=self.sums[kind][live], minlength=len(labels))
        return pd.Series(s / self.totals[kind], index=labels, dtype=float)


def _text_codes(col: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes of a column by level text (values formatting alike merge; NA is :data:`MISSING`)."""
    raw, uniq = pd.factorize(col, use_na_sentinel=True)
    text = np.array([format_level(u) for u in uniq] + [MISSING], dtype=object)
    tcodes, tlevels = pd.factorize(text)
    return tcodes[raw], tuple(str(t) for t in tlevels)  # raw -1 picks MISSING (last)


def _numeric_stats(
    frame: pd.DataFrame, variables: Sequence[str], weights: Mapping[str, np.ndarray]
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for v in variables:
        if v not in frame.columns:
            raise DataError(f"variable {v!r} is not in the data; add the column or drop the margin")
        x = pd.to_numeric(frame[v], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(x)
        st: dict[str, Any] = {"n": int(ok.sum())}
        for k, w in {"unweighted": np.ones(len(frame)), **weights}.items():
            wk = w[ok]
            st[k] = (float(wk.sum()), float(np.multiply(x[ok], wk).sum()))
        out[v] = st
    return out


#: Rows per chunk of the passes that would otherwise need a temporary of every row.
CHUNK = 1 << 20


def _first_rows(row_cell: np.ndarray, m: int) -> np.ndarray:
    n = row_cell.shape[0]
    first = np.full(m, n, dtype=np.int64)
    for start in range(((n - 1) // CHUNK) * CHUNK if n else -1, -1, -CHUNK):
        rc = row_cell[start:start + CHUNK]
        # backwards, so the last write to a cell is its first row
        first[rc[::-1]] = np.arange(start, start + rc.shape[0])[::-1]
    return first


def row_cells(
    frame: pd.DataFrame,
    variables: Sequence[str],
    weights: Mapping[str, np.ndarray],
    *,
    numeric: Sequence[str] = (),
) -> CellSums:
    """Collapse rows to cells of the level text of ``variables`` (one factorize per column,
    then :func:`calib.core.cells.collapse`) with per-cell sums of each of ``weights``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> cs = row_cells(pd.DataFrame({"a": ["x", None, "x"]}), ["a"], {"w": np.array([1., 2., 3.])})
    >>> cs.shares(["a"], "w").round(4).to_dict()
    {'x': 0.6667, '<missing>': 0.3333}
    """
    codes, levels = [], {}
    for v in variables:
        if v not in frame.columns:
            raise DataError(f"variable {v!r} is not in the data; add the column or drop the margin")
        codes.append(None)
        codes[-1], levels[v] = _text_codes(frame[v])
    n = len(frame)
    enc = Encoded(tuple(variables), tuple(codes), levels, np.ones(n, dtype=bool))
    table, row_cell = collapse(enc)
    m = table.n_cells
    sums = {"unweighted": table.count.astype(float)}
    for k, w in weights.items():
        sums[k] = np.bincount(row_cell, weights=w, minlength=m)
    totals = {"unweighted": float(n), **{k: float(w.sum()) for k, w in weights.items()}}
    return CellSums(tuple(variables), levels, table.keys, sums, totals,
                    _numeric_stats(frame, numeric, weights), row_cell)


def _calibration_cells(sample: Any, variables: Sequence[str], base: Callable[[], np.ndarray],
                       after: np.ndarray) -> CellSums | None:
    """The cells of the sample's last calibration when they hold ``variables`` and every row's
    level text is its cell's (no ``missing="level"``, no collapsed levels); else None."""
    cal = next((s for s in reversed(sample.history) if s.calibration is not None), None)
    if cal is None or cal.options.get("missing") not in ("error", "drop"):
        return None
    if cal.options.get("collapse"):
        return None
    cells, row_cell = cal.calibration.cells, cal.calibration.row_cell
    if not set(variables) <= set(cells.variables) or row_cell.shape[0] != len(sample.frame):
        return None
    m = cells.n_cells
    if cal is sample.history[0]:  # the first step's input weights are the base weights
        before, before_total = cells.weight, float(cells.weight.sum())
    else:
        before = np.bincount(row_cell, weights=base(), minlength=m)
        before_total = float(base().sum())
    sums = {"unweighted": cells.count.astype(float),  # the rows are the step's rows
            "before": before, "after": np.bincount(row_cell, weights=after, minlength=m)}
    totals = {"unweighted": float(row_cell.shape[0]), "before": before_total,
              "after": float(after.sum())}
    return CellSums(tuple(cells.variables), dict(cells.levels), cells.keys, sums, totals,
                    {}, row_cell)


def sample_cells(sample: Any, variables: Sequence[str], numeric: Sequence[str] = ()) -> CellSums:
    """Cell sums of a Sample's rows (count, base and current weights) over ``variables``.

    The cells of the sample's last calibration are reused when they hold the variables (no
    second pass over the level text, and the first step's cells already sum the base
    weights); otherwise :func:`row_cells` builds them.
    """
    after = np.asarray(sample.weight_array, dtype=float)
    # the base weights (a copy of every row's) only when something needs them
    base = cache(lambda: np.asarray(sample.base_weights, dtype=float))
    cs = _calibration_cells(sample, variables, base, after) if variables else None
    if cs is None:
        return row_cells(sample.frame, variables, {"before": base(), "after": after},
                         numeric=numeric)
    if not numeric:
        return cs
    return replace(cs, numeric=_numeric_stats(sample.frame, numeric,
                                              {"before": base(), "after": after}))


def _target_variables(targets: Targets | None) -> tuple[list[str], list[str]]:
    """Categorical and numeric variables of the targets' margins."""
    cat: list[str] = []
    num: list[str] = []
    for m in targets or ():
        (num if m.numeric else cat).extend(m.variables)
    return list(dict.fromkeys(cat)), list(dict.fromkeys(num))


def _numeric_row(cs: CellSums, m: Any, population: float | None) -> tuple:
    v = m.variables[0]
    st = cs.numeric[v]
    pop = population if population is not None else cs.totals["after"]
    tgt = float(m.values[0] / pop)
    means = [st[k][1] / st[k][0] if st[k][0] else float("nan") for k in KINDS]
    return (m.name, "", int(st["n"]), *means, tgt, means[2] - tgt)


def _cell_margin_table(cs: CellSums, targets: Targets) -> pd.DataFrame:
    rows = []
    for m in targets:
        if m.numeric:
            rows.append(_numeric_row(cs, m, targets.population))
            continue
        labels, inv, live = cs.group(m.variables)
        size = len(labels)
        counts = dict(zip(labels, np.bincount(inv, weights=cs.sums["unweighted"][live],
                                              minlength=size), strict=True))
        sh = [dict(zip(labels, np.bincount(inv, weights=cs.sums[k][live], minlength=size)
                       / cs.totals[k], strict=True)) for k in KINDS]
        tgt = m.values / m.values.sum()
        names = m.level_labels()
        known = set(names)
        extra = [i for i, lv in enumerate(labels) if lv not in known]
        seen = cs.appearance(m.variables) if len(extra) > 1 else None
        if seen is not None:  # in order of first appearance in the rows
            first = seen
            extra.sort(key=lambda i: first[i])
        extra = [labels[i] for i in extra]
        for lv, t in [*zip(names, tgt, strict=True), *((lv, 0.0) for lv in extra)]:
            got = [float(s.get(lv, 0.0)) for s in sh]
            rows.append((m.name, lv, int(round(counts.get(lv, 0))), *got, float(t),
                         got[2] - float(t)))
    return pd.DataFrame(
        rows,
        columns=[
            "margin", "level", "n", "sample_share", "before_share", "after_share",
            "target_share", "error",
        ],
    )  # fmt: skip


def margin_table(sample: Any, targets: Targets) -> pd.DataFrame:
    """Margins before and after weighting against the targets, as shares.

    One row per target margin entry (plus sample levels the targets lack, with target share
    0, in order of first appearance): ``margin, level, n`` (unweighted count),
    ``sample_share`` (unweighted), ``before_share`` (base weights), ``after_share`` (current
    weights), ``target_share`` and ``error`` (``after_share - target_share``). Shares of a
    margin are over its total (a joint margin ``age:state`` sums to one over all its entries).
    A numeric auxiliary gets one row with means instead of shares (the target mean is its
    total over the population). ``sample`` is a :class:`calib.Sample` or the
    :class:`CellSums` of one (e.g. from an out-of-core engine's cells); the shares are sums
    over cells either way.

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample, Targets
    >>> df = pd.DataFrame({"sex": ["F", "M", "M", "M"]})
    >>> t = Targets.from_frame(pd.DataFrame({"variable": ["sex", "sex"], "level": ["F", "M"],
    ...                                      "share": [0.5, 0.5]}))
    >>> margin_table(Sample(df).rake(t), t)[["level", "sample_share", "after_share", "error"]]
      level  sample_share  after_share  error
    0     F          0.25          0.5    0.0
    1     M          0.75          0.5    0.0
    """
    if not isinstance(sample, CellSums):
        sample = sample_cells(sample, *_target_variables(targets))
    return _cell_margin_table(sample, targets)


Reference = dict[str, "pd.Series | tuple[float, float]"]


def _reference_shares(
    reference: pd.DataFrame | Targets, variables: Sequence[str], ref_w: np.ndarray | None
) -> Reference:
    """Per variable (or joint margin name): level -> share, or (mean, sd) for numeric."""
    out: Reference = {}
    if isinstance(reference, Targets):
        for m in reference:
            if m.numeric:
                continue
            if variables and m.name not in variables:
                continue
            out[m.name] = pd.Series(m.values / m.values.sum(), index=m.level_labels())
        return out
    w = np.ones(len(reference)) if ref_w is None else _weights(ref_w)
    for v in variables:
        col = reference[v]
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            x = col.to_numpy(dtype=float)
            ok = np.isfinite(x)
            mu = float(np.average(x[ok], weights=w[ok]))
            sd = float(np.sqrt(np.average((x[ok] - mu) ** 2, weights=w[ok])))
            out[v] = (mu, sd)
        else:
            out[v] = row_cells(reference, [v], {"w": w}).shares([v], "w")
    return out


def _reference(
    columns: Sequence[str],
    reference: pd.DataFrame | Targets,
    variables: Sequence[str] | None,
    reference_weight: str | Sequence[float] | np.ndarray | None,
) -> Reference:
    """The reference's shares (or mean and sd) per compared variable (see :func:`asmd`)."""
    ref_w = None
    if isinstance(reference, pd.DataFrame):
        if isinstance(reference_weight, str):
            if reference_weight not in reference.columns:
                raise DataError(f"reference weight column {reference_weight!r} is not in the data")
            ref_w = reference[reference_weight].to_numpy(dtype=float)
        elif reference_weight is not None:
            ref_w = np.asarray(reference_weight, dtype=float)
        if variables is None:
            skip = {reference_weight} if isinstance(reference_weight, str) else set()
            variables = [c for c in columns if c in reference.columns and c not in skip]
    elif not isinstance(reference, Targets):
        raise DataError(
            f"reference must be a DataFrame or Targets, got {type(reference).__name__}"
        )
    return _reference_shares(reference, list(variables or ()), ref_w)


def _reference_variables(ref: Reference) -> tuple[list[str], list[str]]:
    cat = [v for name, r in ref.items() if not isinstance(r, tuple) for v in name.split(JOINT_SEP)]
    num = [name for name, r in ref.items() if isinstance(r, tuple)]
    return list(dict.fromkeys(cat)), num


def _cell_asmd(cs: CellSums, ref: Reference, kind: str) -> pd.Series:
    out = {}
    for name, r in ref.items():
        if isinstance(r, tuple):
            mu, sd = r
            st = cs.numeric[name]
            diff = abs(st[kind][1] / st[kind][0] - mu)
            out[name] = diff / sd if sd > 0 else (0.0 if diff == 0 else float("inf"))
            continue
        p = cs.shares(name.split(JOINT_SEP), kind)
        levels = r.index.union(p.index)
        pr = r.reindex(levels, fill_value=0.0).to_numpy(dtype=float)
        pw = p.reindex(levels, fill_value=0.0).to_numpy(dtype=float)
        ok = (pr > 0) & (pr < 1)
        if not ok.any():
            out[name] = 0.0 if np.allclose(pr, pw) else float("inf")
            continue
        out[name] = float(np.mean(np.abs(pw[ok] - pr[ok]) / np.sqrt(pr[ok] * (1 - pr[ok]))))
    return pd.Series(out, name="asmd", dtype=float)


def asmd(
    frame: pd.DataFrame,
    weights: Sequence[float] | np.ndarray | pd.Series,
    reference: pd.DataFrame | Targets,
    *,
    variables: Sequence[str] | None = None,
    reference_weight: str | Sequence[float] | np.ndarray | None = None,
) -> pd.Series:
    """Absolute standardized mean difference per variable against a reference.

    Parameters
    ----------
    frame, weights : the rows and their weights.
    reference : a reference DataFrame (microdata; weighted by ``reference_weight``) or
        ``Targets`` (each categorical margin is a variable; joint margins by their name).
    variables : variables to compare; default every categorical target margin, or the columns
        shared by ``frame`` and the reference frame.

    Returns
    -------
    pandas.Series indexed by variable (see the module docstring for the definition).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"sex": ["F", "M", "M", "M"]})
    >>> ref = pd.DataFrame({"sex": ["F", "M"]})
    >>> asmd(df, [1, 1, 1, 1], ref).round(6).tolist()  # |0.25 - 0.5| / 0.5 for both levels
    [0.5]
    """
    w = _weights(weights)
    if w.size != len(frame):
        raise DataError(f"weights has {w.size} values for {len(frame)} rows")
    ref = _reference(list(frame.columns), reference, variables, reference_weight)
    cat, num = _reference_variables(ref)
    return _cell_asmd(row_cells(frame, cat, {"w": w}, numeric=num), ref, "w")


@dataclass(frozen=True)
class Diagnostics:
    """Diagnostics of a weighted sample (see :func:`summary`).

    Attributes
    ----------
    n, n_eff, deff : rows, Kish effective sample size, Kish design effect due to weighting.
    weights : :func:`weight_summary` of the current weights.
    margins : :func:`margin_table` (``None`` without targets).
    asmd : per variable ASMD before (base weights), after (current weights), and unweighted
        (``None`` without targets or a reference).
    method : the last weighting step's method (``None`` for an unweighted sample).
    values, base_values : the current and base weights (for :meth:`plot`).
    """

    n: int
    n_eff: float
    deff: float
    weights: pd.Series
    margins: pd.DataFrame | None = None
    asmd: pd.DataFrame | None = None
    method: str | None = None
    values: np.ndarray | None = field(default=None, repr=False, compare=False)
    base_values: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        # short: the tables are in str() and the notebook view
        worst = ""
        if self.margins is not None and len(self.margins):
            worst = f", max |margin error|={float(self.margins['error'].abs().max()):.3g}"
        if self.asmd is not None and len(self.asmd):
            worst += f", max ASMD after={float(self.asmd['after'].max()):.3g}"
        return (f"<Diagnostics {self.method or 'unweighted'}: n={self.n}, "
                f"ESS={self.n_eff:.1f}, deff={self.deff:.3f}{worst}>")

    def _repr_html_(self) -> str:
        from calib.weighting.plots import diagnostics_html

        return diagnostics_html(self)

    def plot(self) -> Any:
        """A matplotlib Figure: the weight distribution and a love plot (before/after).

        See :func:`calib.weighting.plots.plot_diagnostics`.
        """
        from calib.weighting.plots import plot_diagnostics

        return plot_diagnostics(self)

    def to_dict(self) -> dict:
        """JSON-friendly dictionary (tables as lists of records)."""
        return {
            "n": int(self.n),
            "n_eff": float(self.n_eff),
            "deff": float(self.deff),
            "method": self.method,
            "weights": {k: float(v) for k, v in self.weights.items()},
            "margins": None if self.margins is None else _records(self.margins),
            "asmd": None if self.asmd is None else _records(self.asmd.reset_index()),
        }

    def __str__(self) -> str:
        lines = [
            f"n = {self.n}, Kish n_eff = {self.n_eff:.1f}, deff = {self.deff:.3f}"
            + (f" (after {self.method})" if self.method else ""),
            "",
            "weights",
            self.weights.to_frame().to_string(float_format=lambda v: f"{v:.4g}"),
        ]
        if self.margins is not None:
            lines += ["", "margins (shares)", self.margins.to_string(index=False, float_format=_f4)]
        if self.asmd is not None:
            lines += ["", "ASMD", self.asmd.to_string(float_format=_f4)]
        return "\n".join(lines)


def _f4(v: float) -> str:
    return f"{v:.4f}"


def _records(df: pd.DataFrame) -> list[dict]:
    out = []
    for rec in df.to_dict(orient="records"):
        out.append({str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()})
    return out


def _last_targets(sample: Any) -> Targets | None:
    """Targets of the last step that had some (a trim or other step without targets after a
    calibration keeps that calibration's margins in view)."""
    return next((s.targets for s in reversed(sample.history) if s.targets is not None), None)


def summary(
    sample: Any,
    targets: Targets | None = None,
    *,
    reference: pd.DataFrame | Any | None = None,
    reference_weight: str | np.ndarray | None = None,
    variables: Sequence[str] | None = None,
) -> Diagnostics:
    """Diagnostics of a sample's current weights.

    Margins and ASMD are sums over the cells of the compared variables (built once, or the
    sample's last calibration cells reused), never row-level level text.

    Parameters
    ----------
    sample : a :class:`calib.Sample`.
    targets : margins for the margin table and the ASMD (default: the targets of the last
        weighting step that had targets, so ``rake(t).trim(...)`` is compared with ``t``).
    reference : reference microdata (DataFrame or Sample) for the ASMD instead of targets.
    reference_weight : weight column of a reference DataFrame.
    variables : variables for the ASMD against a reference (default: shared columns).

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample, Targets
    >>> df = pd.DataFrame({"sex": ["F", "M", "M", "M"]})
    >>> t = Targets.from_frame(pd.DataFrame({"variable": ["sex", "sex"], "level": ["F", "M"],
    ...                                      "share": [0.5, 0.5]}))
    >>> d = summary(Sample(df).rake(t))
    >>> round(d.n_eff, 4), round(d.deff, 4), d.asmd.round(4).to_dict("records")
    (3.0, 1.3333, [{'unweighted': 0.5, 'before': 0.5, 'after': 0.0}])
    """
    w = sample.weight_array
    method = sample.history[-1].method if sample.history else None
    if targets is None and reference is None:
        targets = _last_targets(sample)
    ref: Reference | None = None
    if reference is not None:
        if hasattr(reference, "frame") and hasattr(reference, "weight_array"):
            reference_weight = np.asarray(reference.weight_array, dtype=float)
            reference = reference.frame
        ref = _reference(list(sample.frame.columns), cast(pd.DataFrame, reference), variables,
                         reference_weight)
    elif targets is not None:
        ref = _reference((), targets, variables, None)
    cat, num = _target_variables(targets)
    if ref is not None:
        rcat, rnum = _reference_variables(ref)
        cat, num = list(dict.fromkeys(cat + rcat)), list(dict.fromkeys(num + rnum))
    cs = sample_cells(sample, cat, num) if (targets is not None or ref is not None) else None
    ws = None if cs is None or cs.row_cell is None else _cell_weights(w, cs)
    if ws is None:
        ws = weight_summary(w)
    return Diagnostics(
        n=int(w.size),
        n_eff=float(ws["n_eff"]),
        deff=float(ws["deff"]),
        weights=ws,
        margins=None if targets is None or cs is None else _cell_margin_table(cs, targets),
        asmd=None if ref is None or cs is None else _asmd_table(cs, ref),
        method=method,
        values=np.asarray(w, dtype=float),
        base_values=np.asarray(sample.base_weights, dtype=float),
    )


def _asmd_table(cs: CellSums, ref: Reference) -> pd.DataFrame:
    table = pd.DataFrame({k: _cell_asmd(cs, ref, k) for k in KINDS})
    table.index.name = "variable"
    return table


def _cell_weights(w: np.ndarray, cs: CellSums) -> pd.Series | None:
    """The weight summary from the cells when every row of a cell has the same weight (a
    rake or poststratification from equal base weights, and a trim after it), checked in
    chunks without a temporary of every row; None when the weights vary within a cell."""
    row_cell = cs.row_cell
    assert row_cell is not None  # the caller checked: the cells were built from these rows
    m = cs.keys.shape[0]
    value = np.zeros(m)
    value[row_cell] = w  # any row's weight of each cell
    for start in range(0, w.shape[0], CHUNK):
        if not np.array_equal(w[start:start + CHUNK], value[row_cell[start:start + CHUNK]]):
            return None
    count = cs.sums["unweighted"]
    return _value_summary(count[count > 0], _weights(value[count > 0]))


def _value_summary(count: np.ndarray, per: np.ndarray) -> pd.Series:
    """:func:`weight_summary` of ``count[i]`` rows of weight ``per[i]`` each."""
    n = float(count.sum())
    total = float((count * per).sum())
    if n <= 0 or total <= 0:
        raise DataError("weights: all zero; diagnostics need a positive total")
    mean = total / n
    sq = float((count * per**2).sum())
    lo, hi = float(per.min()), float(per.max())
    out: dict[str, float] = {
        "n": n, "total": total, "min": lo, "max": hi, "mean": mean,
        "cv": float(np.sqrt((count * (per - mean) ** 2).sum() / n) / mean),
        "max_min_ratio": hi / lo if lo > 0 else float("inf"),
        "n_eff": kish_ess_sums(total, sq), "deff": n * sq / total**2,
    }  # fmt: skip
    for k in SHARE_ABOVE:
        out[f"above_{k}x_mean"] = float(count[per > k * mean].sum() / n)
    return pd.Series(out, name="value")


def cell_weight_summary(
    count: np.ndarray, weight: np.ndarray, weight_sq: np.ndarray | None = None
) -> pd.Series:
    """:func:`weight_summary` from per-cell sums.

    Parameters
    ----------
    count, weight : rows and sum of the weights per cell.
    weight_sq : sum of the squared weights per cell; None when every row of a cell has the
        same weight (``weight / count``; then every entry is exact). With it, ``min``,
        ``max``, ``max_min_ratio`` and the shares above multiples of the mean need the rows
        and are NaN.

    Examples
    --------
    >>> s = cell_weight_summary(np.array([2, 1, 1]), np.array([2.0, 2.0, 4.0]))
    >>> s.equals(weight_summary([1, 1, 2, 4]))
    True
    """
    count = np.asarray(count, dtype=float)
    weight = np.asarray(weight, dtype=float)
    live = count > 0
    count, weight = count[live], weight[live]
    if weight_sq is None:
        return _value_summary(count, weight / count)
    n = float(count.sum())
    total = float(weight.sum())
    if n <= 0 or total <= 0:
        raise DataError("weights: all zero; diagnostics need a positive total")
    mean = total / n
    sq = float(np.asarray(weight_sq, dtype=float)[live].sum())
    nan = float("nan")
    out: dict[str, float] = {
        "n": n, "total": total, "min": nan, "max": nan, "mean": mean,
        "cv": float(np.sqrt(max(sq / n - mean**2, 0.0)) / mean), "max_min_ratio": nan,
        "n_eff": kish_ess_sums(total, sq), "deff": n * sq / total**2,
    }  # fmt: skip
    for k in SHARE_ABOVE:
        out[f"above_{k}x_mean"] = nan
    return pd.Series(out, name="value")


def cell_summary(
    cells: CellSums,
    targets: Targets | None,
    *,
    weights: pd.Series,
    method: str | None = None,
) -> Diagnostics:
    """Diagnostics from cell sums alone (an out-of-core engine's cells): the weight summary
    ``weights`` (:func:`cell_weight_summary`), the margin table and the ASMD against
    ``targets``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from calib import Targets
    >>> t = Targets.from_frame(pd.DataFrame({"variable": "sex", "level": ["F", "M"],
    ...                                      "share": [0.5, 0.5]}))
    >>> cs = CellSums(("sex",), {"sex": ("F", "M")}, np.array([[0], [1]]),
    ...               {"unweighted": np.array([1.0, 3.0]), "before": np.array([1.0, 3.0]),
    ...                "after": np.array([2.0, 2.0])},
    ...               {"unweighted": 4.0, "before": 4.0, "after": 4.0})
    >>> d = cell_summary(cs, t, weights=cell_weight_summary([1, 3], [2.0, 2.0]))
    >>> round(d.n_eff, 4), d.asmd["after"].tolist()
    (3.0, [0.0])
    """
    ref = None if targets is None else _reference((), targets, None, None)
    return Diagnostics(
        n=int(weights["n"]),
        n_eff=float(weights["n_eff"]),
        deff=float(weights["deff"]),
        weights=weights,
        margins=None if targets is None else _cell_margin_table(cells, targets),
        asmd=None if ref is None else _asmd_table(cells, ref),
        method=method,
    )


__all__ = [
    "CellSums",
    "Diagnostics",
    "cell_summary",
    "cell_weight_summary",
    "row_cells",
    "sample_cells",
    "asmd",
    "design_effect",
    "kish_ess",
    "margin_table",
    "summary",
    "weight_summary",
]
