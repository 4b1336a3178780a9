"""Estimands: an outcome (numeric, or one column per level of a categorical outcome) within
domains, as columns of row matrices so that any weight vector (or replicate weight matrix)
gives every estimate with one product.

Rows with a missing outcome leave that outcome's estimates (counted, never silently); rows
with a missing domain value belong to no domain. Domain estimates follow R ``svyby``: the
influence values are zero outside the domain, and the whole sample's design and calibration
are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from calib.core.cells import MISSING_LEVEL, format_level, missing_mask
from calib.core.errors import DataError
from calib.core.literals import STATS, Stat


@dataclass(frozen=True)
class Estimands:
    """The estimands, factored: estimand ``l * n_dom + d`` is outcome column ``l`` within
    domain ``d``.

    Attributes
    ----------
    labels : DataFrame with columns outcome, level, by, domain (one row per estimand).
    ycols : (n, L) the outcome (L = 1) or the 0/1 indicators of its levels; 0 where missing.
    dom : (n,) the domain of each row, -1 for rows in no estimand (a missing outcome or domain
        value).
    n_dom : number of domains.
    stat : ``"mean"`` (ratio ``sum w y / sum w``) or ``"total"``.
    missing : rows with a missing outcome; missing_by : rows with a missing domain value.
    Y, D : the dense (n, E) row matrices ``Y[:, l * n_dom + d] = ycols[:, l] * (dom == d)`` and
        ``D[:, l * n_dom + d] = (dom == d)``, built on first use (linearization and row-level
        replicate weights need them; point estimates, sizes and deff use bincounts).
    """

    labels: pd.DataFrame
    ycols: np.ndarray
    dom: np.ndarray
    n_dom: int
    stat: Stat
    missing: int
    missing_by: int

    @cached_property
    def _inside(self) -> np.ndarray:
        return np.flatnonzero(self.dom >= 0)

    def _dense(self, values: np.ndarray | None) -> np.ndarray:
        L, K = self.ycols.shape[1], self.n_dom
        if K == 1 and self._all_inside:  # one domain, every row in it
            return np.ones((self.dom.size, L)) if values is None else values.copy()
        out = np.zeros((self.dom.size, L * K))
        rows = self._inside
        for lv in range(L):
            cols = lv * K + self.dom[rows]
            out[rows, cols] = 1.0 if values is None else values[rows, lv]
        return out

    @cached_property
    def Y(self) -> np.ndarray:
        return self._dense(self.ycols)

    @cached_property
    def D(self) -> np.ndarray:
        return self._dense(None)

    @cached_property
    def _bin(self) -> np.ndarray:
        return self.dom + 1  # bin 0 collects the rows in no estimand

    @cached_property
    def _all_inside(self) -> bool:
        return bool(self._inside.size == self.dom.size)

    def _by_domain(self, v: np.ndarray) -> np.ndarray:
        """(K,) sums of ``v`` (n,) over each domain's rows."""
        if self.n_dom == 1:
            return np.array([v.sum() if self._all_inside else v @ (self.dom >= 0)])
        return np.bincount(self._bin, weights=v, minlength=self.n_dom + 1)[1:]

    def domain_sums(self, w: np.ndarray) -> np.ndarray:
        """(E,) sum of ``w`` over each estimand's rows (``w @ D``)."""
        return np.tile(self._by_domain(w), self.ycols.shape[1])

    def outcome_sums(self, w: np.ndarray) -> np.ndarray:
        """(E,) sum of ``w y`` over each estimand's rows (``w @ Y``)."""
        return np.concatenate([self._by_domain(w * self.ycols[:, lv])
                               for lv in range(self.ycols.shape[1])])

    def squared_deviations(self, w: np.ndarray, centre: np.ndarray) -> np.ndarray:
        """(E,) sum of ``w (y - centre_e)^2`` over each estimand's rows."""
        K = self.n_dom
        at = np.maximum(self.dom, 0)
        out = []
        for lv in range(self.ycols.shape[1]):
            dev = self.ycols[:, lv] - centre[lv * K + at]
            out.append(self._by_domain(w * dev**2))
        return np.concatenate(out)

    def point(self, w: np.ndarray) -> np.ndarray:
        """Estimates for weights ``w`` (n,) or replicate weights (R, n) -> (E,) or (R, E).

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> e = build(pd.DataFrame({"y": [1.0, 0.0, 1.0]}), "y", None, "mean")
        >>> e.point(np.array([1.0, 1.0, 2.0])).tolist()
        [0.75]
        """
        if w.ndim == 1:
            T, N = self.outcome_sums(w), self.domain_sums(w)
        else:
            T, N = w @ self.Y, w @ self.D
        if self.stat == "total":
            return T
        out = np.full_like(T, np.nan)
        np.divide(T, N, out=out, where=N > 0)
        return out

    def influence(self, w: np.ndarray) -> np.ndarray:
        """Influence values ``w z`` (n, E): ``w y`` for totals, ``w (y - ybar)/N`` for means."""
        if self.stat == "total":
            return w[:, None] * self.Y
        N = self.domain_sums(w)
        theta = self.point(w)
        return w[:, None] * (self.Y - self.D * theta[None, :]) / N[None, :]


def build(
    frame: pd.DataFrame, outcome: str, by: str | None, stat: str, *,
    missing_level: bool = False,
) -> Estimands:
    """Estimand matrices for ``outcome`` (by ``by``) with statistic ``stat``.

    Numeric (and boolean) outcomes give one estimand per domain with level ``""``; text or
    categorical outcomes give one per level (the share, or weighted count for ``total``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"v": ["a", "b", "a", None], "g": ["x", "x", "y", "y"]})
    >>> e = build(df, "v", "g", "proportion")
    >>> e.labels[["level", "domain"]].values.tolist(), e.missing
    ([['a', 'x'], ['a', 'y'], ['b', 'x'], ['b', 'y']], 1)
    """
    if stat not in STATS:
        raise DataError(f"stat={stat!r}: choose one of {STATS}")
    if outcome not in frame.columns:
        raise DataError(f"outcome {outcome!r} is not a column of the sample; columns: "
                        f"{list(frame.columns)[:20]}")
    col = frame[outcome]
    miss = missing_mask(col)
    numeric_col = pd.api.types.is_bool_dtype(col) or (
        pd.api.types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype))
    if missing_level and not numeric_col:
        col, miss = _as_level(col, miss)
    n = len(frame)
    if by is not None:
        if by not in frame.columns:
            raise DataError(f"by={by!r} is not a column of the sample")
        if by == outcome:
            raise DataError(f"by={by!r} is the outcome itself; choose another domain variable")
        bcol = frame[by]
        bmiss = missing_mask(bcol)
        if missing_level:
            bcol, bmiss = _as_level(bcol, bmiss)
        dom_codes, dom_levels = _levels(bcol, bmiss)
    else:
        bmiss = np.zeros(n, dtype=bool)
        dom_codes, dom_levels = np.zeros(n, dtype=np.int64), [""]
    numeric = pd.api.types.is_bool_dtype(col) or (
        pd.api.types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype)
    )
    ok = ~miss & ~bmiss
    if numeric:
        y = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        y = np.where(miss, 0.0, y)
        if not np.isfinite(y).all():
            raise DataError(f"outcome {outcome!r} has infinite values; fix or drop those rows")
        if stat == "proportion":
            bad = ~np.isin(y[~miss], (0.0, 1.0))
            if bad.any():
                raise DataError(
                    f"stat='proportion' needs a 0/1 outcome; {outcome!r} has values like "
                    f"{sorted(set(y[~miss][bad].tolist()))[:5]}; use stat='mean' or recode it"
                )
        ycols, levels = [y], [""]
    else:
        codes, levels = _levels(col, miss)
        ycols = [(codes == j).astype(float) for j in range(len(levels))]
    rows = [(outcome, lev, by or "", dom) for lev in levels for dom in dom_levels]
    labels = pd.DataFrame(rows, columns=["outcome", "level", "by", "domain"])
    eff = "total" if stat == "total" else "mean"
    dom = np.where(ok, dom_codes, -1).astype(np.int64)
    return Estimands(labels, np.column_stack(ycols).astype(float), dom, len(dom_levels), eff,
                     int(miss.sum()), int((bmiss & ~miss).sum()))


def _as_level(col: pd.Series, miss: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """Missing values as the level ``"Missing"`` (then nothing is missing)."""
    if not miss.any():
        return col, miss
    return col.astype(object).where(~miss, MISSING_LEVEL), np.zeros_like(miss)


def _levels(col: pd.Series, miss: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Level text and code (-1 where missing) of every row, via one factorize pass."""
    codes_raw, uniques = pd.factorize(col, use_na_sentinel=True)
    labels = [format_level(u) for u in np.asarray(uniques, dtype=object)]
    # a missing token ("NA", "refused") is no level: its rows are missing, not a phantom
    # level with estimate 0
    seen = np.zeros(len(labels), dtype=bool)
    seen[codes_raw[(codes_raw >= 0) & ~miss]] = True
    present = {lb for lb, s in zip(labels, seen, strict=True) if s}
    if isinstance(col.dtype, pd.CategoricalDtype):
        order = [format_level(c) for c in col.cat.categories]
        levels = [c for c in order if c in present]
    else:
        levels = sorted(present)
    lookup = {lv: i for i, lv in enumerate(levels)}
    to_level = np.array([lookup.get(lb, -1) for lb in labels] + [-1], dtype=np.int64)
    codes = to_level[codes_raw]  # the sentinel -1 picks the trailing -1
    codes[miss] = -1
    return codes, levels
