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

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from calib.core.cells import MISSING_LEVEL, MISSING_TOKENS, missing_mask
from calib.core.errors import DataError
from calib.core.util import kish_ess_sums, z_value
from calib.estimation.linearization import RAKE_SWEEPS, raking_residuals
from calib.estimation.request import EstimateRequest
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
        _no_missing_outcome(con, sample, outcome)
        try:
            raw = group_combos(sample.files, variables, base_weight=sample.base_weight,
                               products=products, con=con)
        except duckdb.ConversionException as err:
            raise DataError(
                f"outcome {outcome!r} is not numeric ({str(err).splitlines()[0]}); out of core "
                "the outcome must be numeric (0/1 for a proportion): recode it first"
            ) from err
    return raw


def estimate_files(sample: Any, outcome: str | EstimateRequest, **options: Any) -> pd.DataFrame:
    """Weighted mean of a numeric ``outcome`` by domain, with linearized SEs, out of core.

    Parameters
    ----------
    sample : a :class:`calib.FileSample` (weighted or not).
    outcome : numeric column (0/1 for a proportion), or an
        :class:`~calib.estimation.request.EstimateRequest` (``options`` replace its fields).
    **options : the request's fields: ``by`` (domain column; missing domain values form the
        level ``"Missing"``) and ``level`` (confidence level of the normal interval). Out of
        core the statistic is the mean and the variance linearized (ids=~1): a request for
        another statistic or variance is refused.

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
    req = EstimateRequest.of(outcome, **options)
    if req.variance != "linearization" or req.stat != "mean":
        raise DataError(f"out of core the estimate is a mean with a linearized variance; got "
                        f"stat={req.stat!r}, variance={req.variance!r}: load the rows into a "
                        "calib.Sample for the others")
    c = _cells(sample, req.outcome, req.by)
    if req.by is None:
        dom = np.zeros(c.fine.n_cells, dtype=np.int64)
        dom_levels: tuple[str, ...] = ("all",)
    else:
        dom = c.fine.keys[:, c.gvars.index(req.by)]
        dom_levels = tuple(c.fine.levels[req.by])
    z_ = z_value(req.level)
    rows = []
    for jj, lab in enumerate(dom_levels):
        row = _domain_row(c, dom == jj, req.outcome, z_)
        if row is None:
            continue
        if req.by is not None:
            row = {req.by: lab, **row}
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class _Cells:
    """The fine (weighting cell x domain) sums and, per fine cell, its calibration cell."""

    fine: Any  # CellTable of the fine cells
    gvars: list[str]
    fc: np.ndarray  # calibration cell of each fine cell
    g: np.ndarray  # calibration factor per calibration cell
    X: np.ndarray  # auxiliaries per calibration cell
    Dc: np.ndarray  # input weight per calibration cell
    m_c: int
    cal: Any
    step: Any

    @property
    def n(self) -> int:
        return int(self.fine.count.sum())


def _cells(sample: Any, outcome: str, by: str | None) -> _Cells:
    """One GROUP BY of the files on the weighting cells (and ``by``) with the sums the
    linearization needs, mapped onto the calibration cells of the last weighting step."""
    step = sample.history[-1] if sample.history else None
    cal = step.calibration if step is not None else None
    wvars = list(cal.cells.variables) if cal is not None else []
    gvars = wvars if by is not None and by in wvars else wvars + ([by] if by is not None else [])
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
    if cal is None:
        return _Cells(fine, gvars, np.zeros(fine.n_cells, dtype=np.int64), np.ones(1),
                      np.zeros((1, 0)), np.array([fine.weight.sum()]), 1, None, step)
    k = len(wvars)
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
    return _Cells(fine, gvars, pos, np.asarray(sample.g, dtype=float), cal.X, cal.cells.weight,
                  cal.cells.n_cells, cal, step)


def _domain_row(c: _Cells, sel: np.ndarray, outcome: str, z_: float) -> dict[str, Any] | None:
    """Estimate, linearized se and interval of one domain (None: no weight in it)."""
    fine, fc, g, m_c = c.fine, c.fc, c.g, c.m_c
    D, DY = fine.weight, fine.sums["__dy"]
    D2, D2Y, D2Y2 = fine.sums["__d2"], fine.sums["__d2y"], fine.sums["__d2y2"]
    gf = g[fc]
    N = float((gf[sel] * D[sel]).sum())
    if not N > 0:
        return None
    ybar = float((gf[sel] * DY[sel]).sum()) / N
    s_dz = np.where(sel, (DY - ybar * D) / N, 0.0)
    s_d2z = np.where(sel, (D2Y - ybar * D2) / N, 0.0)
    s_d2z2 = np.where(sel, (D2Y2 - 2 * ybar * D2Y + ybar**2 * D2) / N**2, 0.0)
    S = np.bincount(fc, weights=s_dz, minlength=m_c)
    h = _residual_shift(c, sel, ybar, N, S)
    su2 = np.bincount(fc, weights=s_d2z2, minlength=m_c)
    su1 = np.bincount(fc, weights=s_d2z, minlength=m_c)
    sum_d2_cell = np.bincount(fc, weights=D2, minlength=m_c)
    sum_u2 = float((g**2 * (su2 - 2 * h * su1 + h**2 * sum_d2_cell)).sum())
    sum_u = float((g * (S - h * c.Dc)).sum())
    n = c.n
    var = n / (n - 1) * (sum_u2 - sum_u**2 / n) if n > 1 else np.nan
    if not np.isfinite(var):
        raise DataError(f"estimate of {outcome!r}: too few rows ({n}) for a variance")
    se = float(np.sqrt(max(var, 0.0)))
    return {"estimate": ybar, "se": se, "ci_low": ybar - z_ * se, "ci_high": ybar + z_ * se,
            "n": int(fine.count[sel].sum()), "weight": N,
            "ess": kish_ess_sums(N, float((gf[sel] ** 2 * D2[sel]).sum()))}


def _residual_shift(c: _Cells, sel: np.ndarray, ybar: float, N: float,
                    S: np.ndarray) -> np.ndarray:
    """``h_c = x_c'B`` per calibration cell (rake: minus R's raking shift)."""
    if c.cal is not None and raking_residuals(c.step.method):
        # R rake: RAKE_SWEEPS sweeps of u <- u - (unweighted mean of u over each margin
        # level); on cells a shift per cell, from per-cell unweighted sums of z
        fine = c.fine
        s_z = np.where(sel, (fine.sums["__y"] - ybar * fine.count) / N, 0.0)
        U = np.bincount(c.fc, weights=s_z, minlength=c.m_c)
        return -_rake_shift(U, c.cal.cells.count.astype(float), c.cal.margin_index)
    if c.X.shape[1]:
        sqrtD = np.sqrt(np.maximum(c.Dc, 0.0))
        ok = sqrtD > 0
        A = c.X[ok] * sqrtD[ok, None]
        b = S[ok] / sqrtD[ok]
        B = np.linalg.lstsq(A, b, rcond=None)[0]
        return c.X @ B
    return np.zeros(c.m_c)


def _rake_shift(U: np.ndarray, nc: np.ndarray, margin_index: tuple) -> np.ndarray:
    """Per-cell shift of R's raking residualization (as :mod:`calib.estimation`)."""
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
    _no_missing_outcome(con, sample, outcome)
    products = {k: tuple(f.format(y=outcome) for f in v) for k, v in _PRODUCTS.items()}
    aggs = [f"COUNT(*) AS {quote(N_COL)}",
            f"SUM({product_sql(('__w',), sample.base_weight)}) AS {quote(W_COL)}"]
    aggs += [f"SUM({product_sql(f, sample.base_weight)}) AS {quote(k)}"
             for k, f in products.items()]
    raw = con.execute(
        f"SELECT 'all' AS __all, {', '.join(aggs)} FROM {relation_sql(list(sample.files))}"
    ).df()
    return raw.rename(columns={"__all": "__calib_all"})


def _no_missing_outcome(con, sample, outcome: str) -> None:
    """Raise when the outcome has missing values (blank, NaN or a missing token such as
    ``NA`` or ``refused``) in the files, never a silent drop, or a value that is not a
    number (named)."""
    from calib.outofcore.duckdb_cells import quote, relation_sql

    y = quote(outcome)
    text = f"lower(trim(CAST({y} AS VARCHAR)))"
    tokens = ", ".join("'" + t.replace("'", "''") + "'" for t in sorted(MISSING_TOKENS))
    token = f"{y} IS NULL OR {text} IN ({tokens}) OR isnan(TRY_CAST({y} AS DOUBLE))"
    rel = relation_sql(list(sample.files))
    nmiss = int(con.execute(f"SELECT COUNT(*) FROM {rel} WHERE {token}").fetchone()[0])
    if nmiss:
        raise _missing_outcome(outcome, nmiss)
    bad = con.execute(f"SELECT CAST({y} AS VARCHAR) FROM {rel} WHERE TRY_CAST({y} AS DOUBLE) "
                      "IS NULL LIMIT 1").fetchone()
    if bad is not None:
        raise DataError(f"outcome {outcome!r} is not numeric: it has the value {bad[0]!r}; "
                        "out of core the outcome must be numeric (0/1 for a proportion; write 1000, "
                        "not 1,000): recode it first")


def _missing_outcome(outcome: str, nmiss: int) -> DataError:
    return DataError(
        f"outcome {outcome!r}: {nmiss} rows have missing values (blank, NA, refused ...); out "
        "of core they are refused: drop or impute them first, or use --engine memory, where "
        "they are left out and counted"
    )


__all__ = ["estimate_files"]
