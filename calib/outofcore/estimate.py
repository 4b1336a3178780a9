"""Domain means with linearized SEs from per-cell sufficient statistics (out of core).

For calibrate and poststratify, on auxiliaries ``x`` that depend only on the weighting cell (indicators of
margin entries, numeric values that are cell keys), R survey's linearization of a calibrated
estimator uses the residual of the influence values regressed on ``x`` with the input weights
``d``: ``u_i = w_i (z_i - x_c'B)``, ``B = (sum d x x')^- sum d x z``, and, for a one-stage
design with replacement (``ids=~1``), ``var = n/(n-1) sum (u_i - mean u)^2``. For the domain
mean ``ybar_j = sum_j w y / sum_j w`` the influence value is ``z_i = 1{i in j}(y_i - ybar_j) /
N_j``. Every sum above is a function of per-(cell, domain) sums of ``d, dy, d^2, d^2 y,
d^2 y^2`` (``w = g_c d`` inside a cell), so one GROUP BY with the domain variable in the cell
key is all the data pass needed:

``sum_i u_i^2 = sum_c g_c^2 [sum d^2 z^2 - 2 h_c sum d^2 z + h_c^2 sum d^2]``, ``h_c = x_c'B``.

For rake, as R ``rake`` (and :mod:`calib.estimation`): ten sweeps of ``u <- u - (unweighted
mean of u over each margin level)`` with ``u = z``; on cells that is a shift ``s_c`` per cell
computed from per-cell unweighted sums of ``z`` (hence also ``sum y`` per cell), and the
residual is ``w_i (z_i + s_c)``: the formulas above with ``h_c = -s_c``.

References: Deville & Sarndal (1992); Lumley (2010) *Complex Surveys* 7.4; R survey
``svyrecvar`` (``greg_calibration`` at stage 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from calib.core.cells import MISSING_LEVEL, missing_mask
from calib.core.errors import DataError
from calib.outofcore.combos import N_COL, W_COL, cells_from_combos

_PRODUCTS = {
    "__y": ("{y}",),
    "__dy": ("__w", "{y}"),
    "__d2": ("__w", "__w"),
    "__d2y": ("__w", "__w", "{y}"),
    "__d2y2": ("__w", "__w", "{y}", "{y}"),
}


def _group(sample: Any, variables: list[str], outcome: str) -> pd.DataFrame:
    products = {k: tuple(f.format(y=outcome) for f in v) for k, v in _PRODUCTS.items()}
    if sample.engine == "dask":
        from calib.outofcore.dask_cells import group_combos, read

        nmiss = int(read(sample.files)[outcome].isna().sum().compute())
        if nmiss:
            raise _missing_outcome(outcome, nmiss)
        raw = group_combos(sample.files, variables, base_weight=sample.base_weight,
                           products=products, client=sample.client)
    else:
        import duckdb

        from calib.outofcore.duckdb_cells import connect, group_combos

        con = connect()
        try:
            raw = group_combos(sample.files, variables, base_weight=sample.base_weight,
                               products=products, con=con)
        except duckdb.ConversionException as err:
            raise DataError(
                f"outcome {outcome!r} is not numeric ({str(err).splitlines()[0]}); out of core "
                "the outcome must be numeric (0/1 for a proportion): recode it first"
            ) from err
        _no_missing_outcome(con, sample, outcome)
    return raw


def estimate_files(
    sample: Any, outcome: str, *, by: str | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Weighted mean of a numeric ``outcome`` by domain, with linearized SEs, out of core.

    Parameters
    ----------
    sample : a :class:`calib.FileSample` (weighted or not).
    outcome : numeric column (0/1 for a proportion).
    by : optional domain column; missing domain values form the level ``"Missing"``.
    level : confidence level of the normal interval.

    Returns
    -------
    DataFrame with the domain column (if ``by``), ``estimate``, ``se``, ``ci_low``,
    ``ci_high``, ``n`` (rows), ``weight`` (sum of weights) and ``ess`` (Kish effective
    sample size of the domain).

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> from calib.outofcore.filesample import FileSample
    >>> d = tempfile.mkdtemp(); src = os.path.join(d, "p.parquet")
    >>> pd.DataFrame({"y": [1.0, 0.0, 1.0, 1.0]}).to_parquet(src)
    >>> r = estimate_files(FileSample.from_files(src), "y")
    >>> float(r["estimate"].iloc[0]), round(float(r["se"].iloc[0]), 6)
    (0.75, 0.25)
    """
    step = sample.history[-1] if sample.history else None
    cal = step.calibration if step is not None else None
    wvars = list(cal.cells.variables) if cal is not None else []
    if by is not None and by in wvars:
        gvars = wvars
    else:
        gvars = wvars + ([by] if by is not None else [])
    if outcome in gvars:
        raise DataError(f"outcome {outcome!r} is also a cell variable; estimate another column")
    if gvars:
        raw = _group(sample, gvars, outcome)
    else:
        raw, gvars = _group_total(sample, outcome), ["__calib_all"]
    if by is not None and by not in wvars:
        m = missing_mask(raw[by])
        if m.any():
            col = raw[by].astype(object)
            col[m] = MISSING_LEVEL
            raw[by] = col
    num = [v for v in wvars if cal is not None and (v, "") in cal.labels]
    levels = {v: cal.cells.levels[v] for v in wvars if v not in num} if cal is not None else {}
    missing = step.options.get("missing", "error") if step is not None else "error"
    sums = ("__y", "__dy", "__d2", "__d2y", "__d2y2")
    fine, _ = cells_from_combos(raw, gvars, levels=levels, missing=missing, numeric=num,
                                sums=sums)
    k = len(wvars)
    if cal is not None:
        shape = tuple(len(cal.cells.levels[v]) for v in wvars)
        # numeric keys: the fine table's levels of a numeric variable are its distinct values,
        # the same as in the calibration cells (same rows)
        cflat = np.ravel_multi_index(tuple(cal.cells.keys.T), shape)
        fflat = np.ravel_multi_index(tuple(fine.keys[:, :k].T), shape)
        pos = np.searchsorted(cflat, fflat)
        pos = np.minimum(pos, cflat.size - 1)
        if not (cflat[pos] == fflat).all():
            raise DataError("the files changed since weighting: cells without a weight; weight "
                            "the files again")
        fc = pos
        g = np.asarray(sample.g, dtype=float)
        X = cal.X
        Dc = cal.cells.weight
        m_c = cal.cells.n_cells
    else:
        fc = np.zeros(fine.n_cells, dtype=np.int64)
        g = np.ones(1)
        X = np.zeros((1, 0))
        Dc = np.array([fine.weight.sum()])
        m_c = 1
    if by is None:
        dom = np.zeros(fine.n_cells, dtype=np.int64)
        dom_levels: tuple[str, ...] = ("all",)
    else:
        j = gvars.index(by)
        dom = fine.keys[:, j]
        dom_levels = tuple(fine.levels[by])
    D, DY = fine.weight, fine.sums["__dy"]
    D2, D2Y, D2Y2 = fine.sums["__d2"], fine.sums["__d2y"], fine.sums["__d2y2"]
    gf = g[fc]
    n = int(fine.count.sum())
    sum_d2_cell = np.bincount(fc, weights=D2, minlength=m_c)
    sqrtD = np.sqrt(np.maximum(Dc, 0.0))
    z_ = stats.norm.ppf(0.5 + level / 2)
    rows = []
    for jj, lab in enumerate(dom_levels):
        sel = dom == jj
        N = float((gf[sel] * D[sel]).sum())
        if not N > 0:
            continue
        ybar = float((gf[sel] * DY[sel]).sum()) / N
        s_dz = np.where(sel, (DY - ybar * D) / N, 0.0)
        s_d2z = np.where(sel, (D2Y - ybar * D2) / N, 0.0)
        s_d2z2 = np.where(sel, (D2Y2 - 2 * ybar * D2Y + ybar**2 * D2) / N**2, 0.0)
        S = np.bincount(fc, weights=s_dz, minlength=m_c)
        if cal is not None and step is not None and step.method == "rake":
            # R rake: RAKE_SWEEPS sweeps of u <- u - (unweighted mean of u over each margin
            # level); on cells a shift per cell, from per-cell unweighted sums of z
            s_z = np.where(sel, (fine.sums["__y"] - ybar * fine.count) / N, 0.0)
            U = np.bincount(fc, weights=s_z, minlength=m_c)
            h = -_rake_shift(U, cal.cells.count.astype(float), cal.margin_index)
        elif X.shape[1]:
            ok = sqrtD > 0
            A = X[ok] * sqrtD[ok, None]
            b = S[ok] / sqrtD[ok]
            B = np.linalg.lstsq(A, b, rcond=None)[0]
            h = X @ B
        else:
            h = np.zeros(m_c)
        su2 = np.bincount(fc, weights=s_d2z2, minlength=m_c)
        su1 = np.bincount(fc, weights=s_d2z, minlength=m_c)
        sum_u2 = float((g**2 * (su2 - 2 * h * su1 + h**2 * sum_d2_cell)).sum())
        sum_u = float((g * (S - h * Dc)).sum())
        var = n / (n - 1) * (sum_u2 - sum_u**2 / n) if n > 1 else np.nan
        if not np.isfinite(var):
            raise DataError(f"estimate of {outcome!r}: too few rows ({n}) for a variance")
        se = float(np.sqrt(max(var, 0.0)))
        row = {"estimate": ybar, "se": se, "ci_low": ybar - z_ * se, "ci_high": ybar + z_ * se,
               "n": int(fine.count[sel].sum()), "weight": N,
               "ess": N**2 / float((gf[sel] ** 2 * D2[sel]).sum())}
        if by is not None:
            row = {by: lab, **row}
        rows.append(row)
    return pd.DataFrame(rows)


def _rake_shift(U: np.ndarray, nc: np.ndarray, margin_index: tuple) -> np.ndarray:
    """Per-cell shift of R's raking residualization (as :mod:`calib.estimation`)."""
    from calib.estimation.linearization import RAKE_SWEEPS

    shift = np.zeros_like(U)
    for _ in range(RAKE_SWEEPS):
        for idx in margin_index:
            size = int(idx.max()) + 1
            cnt = np.bincount(idx, weights=nc, minlength=size)
            tot = np.bincount(idx, weights=U + nc * shift, minlength=size)
            mean = np.zeros(size)
            np.divide(tot, cnt, out=mean, where=cnt > 0)
            shift -= mean[idx]
    return shift


def _group_total(sample: Any, outcome: str) -> pd.DataFrame:
    """No cell variables: one group of all rows (a constant key)."""
    from calib.outofcore.duckdb_cells import (
        connect,
        product_sql,
        quote,
        relation_sql,
    )

    if sample.engine == "dask":
        raise DataError("an unweighted FileSample estimate without by= needs engine='duckdb'")
    con = connect()
    products = {k: tuple(f.format(y=outcome) for f in v) for k, v in _PRODUCTS.items()}
    aggs = [f"COUNT(*) AS {quote(N_COL)}",
            f"SUM({product_sql(('__w',), sample.base_weight)}) AS {quote(W_COL)}"]
    aggs += [f"SUM({product_sql(f, sample.base_weight)}) AS {quote(k)}"
             for k, f in products.items()]
    raw = con.execute(
        f"SELECT 'all' AS __all, {', '.join(aggs)} FROM {relation_sql(list(sample.files))}"
    ).df()
    raw = raw.rename(columns={"__all": "__calib_all"})
    _no_missing_outcome(con, sample, outcome)
    return raw


def _no_missing_outcome(con, sample, outcome: str) -> None:
    """Raise when the outcome has missing values in the files (never a silent drop)."""
    from calib.outofcore.duckdb_cells import quote, relation_sql

    nmiss = int(con.execute(
        f"SELECT COUNT(*) FROM {relation_sql(list(sample.files))} "
        f"WHERE {quote(outcome)} IS NULL OR isnan(CAST({quote(outcome)} AS DOUBLE))"
    ).fetchone()[0])
    if nmiss:
        raise _missing_outcome(outcome, nmiss)


def _missing_outcome(outcome: str, nmiss: int) -> DataError:
    return DataError(
        f"outcome {outcome!r}: {nmiss} rows have missing values; drop or impute them (or "
        "recode the outcome) before estimating"
    )


__all__ = ["estimate_files"]
