"""Poststratification frames: extend with a variable the census lacks, update to new margins.

* :func:`extend_frame` (MRP Case Studies ch. 2): the census frame has no party ID or past vote,
  so a multinomial model of ``variable`` given the frame's ``by`` variables is fitted on a
  reference survey (ANES, CCES) and each frame cell is split into one cell per level of
  ``variable`` with count ``n * P(level | cell)``. The model is a ridge-regularized (MAP,
  i.e. Bayesian posterior mode with ``Normal(0, prior_sd)`` priors) multinomial logit with
  additive main effects of the ``by`` variables, fitted on the reference survey's cells
  (weighted counts when ``weight`` is given). **Only the point estimate of the extension is
  used**: its uncertainty is not carried into the MRP estimates (they are too narrow by that
  much). A ``by`` level the survey lacks gets the prior mean effect 0 (all levels are coded, no
  reference level, so the penalty identifies the model).
* :func:`update_frame`: rake the frame's cells to newer one-way or by-state margins with IPF -
  the maximum-entropy (minimum Kullback-Leibler) joint that meets the new margins while keeping
  the old frame's associations (odds ratios between variables). Every new margin is checked.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"age": ["young", "old"], "n": [100.0, 100.0]})
>>> ref = pd.DataFrame({"age": ["young"] * 4 + ["old"] * 4,
...                     "pid": ["D", "D", "D", "R", "D", "R", "R", "R"]})
>>> ext = extend_frame(frame, ref, "pid", by=["age"], prior_sd=10.0)
>>> ext.round(1).values.tolist()
[['young', 'D', 74.7], ['young', 'R', 25.3], ['old', 'D', 25.3], ['old', 'R', 74.7]]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from calib.core.cells import (
    collapse,
    encode,
    encode_column,
    format_level,
    missing_mask,
)
from calib.core.errors import (
    ConvergenceError,
    DataError,
    InfeasibleError,
    TargetError,
)
from calib.core.literals import MissingRule
from calib.core.targets import Targets
from calib.weighting.ipf import ipf, max_rel_error


def _design(codes: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    m = len(codes[0])
    X = np.zeros((m, 1 + sum(sizes)))
    X[:, 0] = 1.0
    off = 1
    for c, s in zip(codes, sizes, strict=True):
        ok = c >= 0
        X[np.flatnonzero(ok), off + c[ok]] = 1.0
        off += s
    return X


def _fit_multinomial(X: np.ndarray, Y: np.ndarray, prior_sd: float) -> np.ndarray:
    """MAP of a multinomial logit, reference category 0; intercepts unpenalized."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp

    m, p = X.shape
    K = Y.shape[1]
    pen = np.ones(p)
    pen[0] = 0.0

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        B = theta.reshape(p, K - 1)
        eta = np.column_stack([np.zeros(m), X @ B])
        lse = logsumexp(eta, axis=1)
        ll = (Y * eta).sum() - (Y.sum(axis=1) * lse).sum()
        # scipy has no stubs: logsumexp's inferred return type takes no None (newaxis) index
        P = np.exp(eta - lse[:, None])  # pyright: ignore[reportCallIssue, reportArgumentType]
        grad = X.T @ (Y[:, 1:] - Y.sum(axis=1)[:, None] * P[:, 1:])
        obj = -ll + 0.5 * (pen[:, None] * B**2).sum() / prior_sd**2
        g = -grad + pen[:, None] * B / prior_sd**2
        return float(obj), g.ravel()

    res = minimize(f, np.zeros(p * (K - 1)), jac=True, method="L-BFGS-B",
                   options={"maxiter": 5000, "gtol": 1e-9})
    if not res.success and np.abs(res.jac).max() > 1e-4:
        raise ConvergenceError(f"extend_frame: the multinomial model did not converge "
                               f"({res.message}); raise prior_sd or fewer by variables")
    return res.x.reshape(p, K - 1)


def extend_frame(
    frame: pd.DataFrame,
    reference: pd.DataFrame,
    variable: str,
    by: Sequence[str],
    *,
    count: str = "n",
    weight: str | None = None,
    prior_sd: float = 1.0,
    missing: MissingRule = "error",
) -> pd.DataFrame:
    """Split every frame cell by the levels of ``variable`` modelled on a reference survey.

    Parameters
    ----------
    frame : poststratification cells with the ``by`` columns and ``count``.
    reference : survey rows with ``by`` and ``variable`` (e.g. :func:`calib.data.datasets.cces2018`
        with ``pid3``).
    variable : the variable to add (categorical).
    by : predictors of ``variable`` that both frames hold (e.g. ``state, age6, race4, sex,
        educ5``); additive main effects.
    count : the frame's count column (kept as the name of the split counts).
    weight : reference survey weight column (default unweighted).
    prior_sd : sd of the Normal prior of each main effect (smaller = more pooling).
    missing : reference rows with a missing ``variable`` or ``by`` value: ``"error"`` or
        ``"drop"``: the dropped rows are reported with a ``UserWarning`` and in
        ``result.attrs["dropped"]`` (``{"rows": total, column: missing in it, ...}``, empty
        when none); ``result.attrs["reference_rows"]`` is the rows used.

    Returns
    -------
    DataFrame: the frame's ``by`` columns (and any others), ``variable`` (categorical) and
    ``count`` = the original count times P(level | cell); totals per original cell are kept
    exactly. Point estimate of the extension only (see module docstring).
    """
    by = list(by)
    _check_extend(frame, reference, variable, by, count, prior_sd, missing)
    ref, dropped = _drop_missing(reference, [*by, variable]) if missing == "drop" else (
        reference, {})
    ycodes, ylev, ymiss = encode_column(ref[variable], variable, None, "error")
    if ymiss.any():
        raise DataError(f"{variable!r} is missing in {int(ymiss.sum())} reference rows; pass "
                        "missing='drop'")
    enc = encode(ref, by, missing="error")
    w = np.ones(len(ref)) if weight is None else ref[weight].to_numpy(float)
    if weight is not None and (np.isnan(w).any() or (w < 0).any()):
        raise DataError(f"reference weight {weight!r} has missing or negative values")
    sums = {f"y{k}": w * (ycodes == k) for k in range(len(ylev))}
    cells, _ = collapse(enc, sums=sums)
    Y = np.column_stack([cells.sums[f"y{k}"] for k in range(len(ylev))])
    if weight is not None:  # scale weighted counts to the sample size (effective counts)
        Y *= len(ref) / max(Y.sum(), 1e-300)
    sizes = [len(cells.levels[v]) for v in by]
    X = _design([cells.codes(v) for v in by], sizes)
    B = _fit_multinomial(X, Y, prior_sd)
    # frame design in the reference coding; unseen levels -> no column (prior mean 0)
    fcodes = []
    for v in by:
        pos = {lv: i for i, lv in enumerate(cells.levels[v])}
        fcodes.append(frame[v].map(format_level).astype(str).map(pos).fillna(-1)
                      .to_numpy(np.int64))
    Xf = _design(fcodes, sizes)
    eta = np.column_stack([np.zeros(len(frame)), Xf @ B])
    eta -= eta.max(axis=1, keepdims=True)
    P = np.exp(eta)
    P /= P.sum(axis=1, keepdims=True)
    K = len(ylev)
    out = frame.loc[frame.index.repeat(K)].reset_index(drop=True)
    ycat = pd.Categorical(np.tile(np.array(ylev, dtype=object), len(frame)), categories=list(ylev))
    # pandas-stubs' insert() omits array-likes such as a Categorical
    out.insert(len(by), variable, ycat)  # pyright: ignore[reportArgumentType]
    out[count] = frame[count].to_numpy(float).repeat(K) * P.ravel()
    out.attrs["dropped"] = dropped
    out.attrs["reference_rows"] = int(len(ref))
    return out


def _check_extend(frame: pd.DataFrame, reference: pd.DataFrame, variable: str, by: list[str],
                  count: str, prior_sd: float, missing: str) -> None:
    """The checks of :func:`extend_frame`'s arguments, each naming the fix."""
    if variable in frame.columns:
        raise DataError(f"the frame already has {variable!r}; nothing to extend")
    for c in [*by, count]:
        if c not in frame.columns:
            raise DataError(f"the frame lacks column {c!r}; extend by columns it has")
    for c in [*by, variable]:
        if c not in reference.columns:
            raise DataError(f"the reference survey lacks column {c!r}; recode it first")
    if prior_sd <= 0:
        raise DataError(f"prior_sd={prior_sd}: must be > 0")
    if missing not in ("error", "drop"):
        raise DataError(f"missing={missing!r}: use 'error' or 'drop'")


def _drop_missing(ref: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Reference rows without a missing value in ``columns``, and the counts dropped
    (per column and ``rows`` in all), warned about."""

    dropped: dict[str, int] = {}
    bad = np.zeros(len(ref), dtype=bool)
    for c in columns:
        mc = missing_mask(ref[c])
        if mc.any():
            dropped[c] = int(mc.sum())
        bad |= mc
    if bad.any():
        dropped["rows"] = int(bad.sum())
        warnings.warn(f"extend_frame dropped {int(bad.sum())} of {len(ref)} reference rows "
                      f"with a missing value (per column: "
                      f"{ {k: v for k, v in dropped.items() if k != 'rows'} }); "
                      "the count is in result.attrs['dropped']", UserWarning, stacklevel=3)
    return ref.loc[~bad], dropped


def update_frame(
    frame: pd.DataFrame,
    margins: Targets,
    *,
    count: str = "n",
    population: float | None = None,
    tol: float = 1e-8,
    max_iter: int = 2000,
) -> pd.DataFrame:
    """Rake the frame's cell counts to new margins (maximum-entropy update of the joint).

    Parameters
    ----------
    frame : cells with the margins' variables and ``count``.
    margins : :class:`calib.Targets` of categorical margins (one-way or joint such as
        ``sex:state``), totals or shares. Shares are turned into totals against
        ``population`` (default: the frame's own total, so the frame keeps its size and
        universe and takes the new margins' *distribution*).
    count : the count column.
    tol : largest relative margin error accepted.

    Returns
    -------
    The frame with ``count`` replaced by the raked counts (float); every margin is met within
    ``tol`` (checked; :class:`~calib.core.errors.ConvergenceError` naming the worst margin if not).

    Assumption: the old frame's associations between variables (the interactions the margins
    do not pin) still hold; only the margins moved.

    Examples
    --------
    >>> import pandas as pd
    >>> from calib.core.targets import margin
    >>> f = pd.DataFrame({"sex": ["F", "F", "M", "M"], "age": ["y", "o", "y", "o"],
    ...                   "n": [30.0, 20.0, 20.0, 30.0]})
    >>> t = Targets((margin("sex", {"F": 0.6, "M": 0.4}, scale="share"),))
    >>> update_frame(f, t)["n"].round(1).tolist()
    [36.0, 24.0, 16.0, 24.0]
    """
    if count not in frame.columns:
        raise DataError(f"frame has no count column {count!r}")
    n = frame[count].to_numpy(float)
    if np.isnan(n).any() or (n < 0).any():
        raise DataError(f"frame column {count!r} has missing or negative counts")
    if margins.numeric_variables:
        raise TargetError(f"update_frame takes categorical margins; drop numeric "
                          f"{list(margins.numeric_variables)}")
    pop = float(n.sum()) if population is None else float(population)
    resolved = margins.resolve(pop)
    index, totals = [], []
    for m in resolved:
        absent = [v for v in m.variables if v not in frame.columns]
        if absent:
            raise DataError(f"margin {m.name!r}: the frame lacks {absent}")
        cols = list(m.variables)
        labels = frame[cols].astype(str).agg(":".join, axis=1) if len(
            cols) > 1 else frame[cols[0]].map(format_level).astype(str)
        pos = {":".join(lv): i for i, lv in enumerate(m.levels)}
        idx = labels.map(pos)
        uncovered = (idx.isna()) & (n > 0)
        if uncovered.any():
            bad = sorted(set(labels[uncovered]))[:10]
            raise TargetError(f"margin {m.name!r} has no target for frame levels {bad}; add "
                              "them to the margin or drop those cells")
        idx = idx.fillna(len(m.levels)).to_numpy(np.int64)
        t = np.append(m.values, 0.0)
        have = np.bincount(idx, weights=n, minlength=len(t))
        empty = (t > 0) & (have <= 0)
        if empty.any():
            bad = [m.level_labels()[i] for i in np.flatnonzero(empty[:-1])][:10]
            raise InfeasibleError(f"margin {m.name!r}: levels {bad} have a target but no frame "
                                  "count; the frame cannot be raked to them")
        index.append(idx)
        totals.append(t)
    res = ipf(n, index, totals, tol=tol, max_iter=max_iter)
    err = max_rel_error(res.weight, index, totals)
    if err > tol:
        worst = max(range(len(index)),
                    key=lambda i: max_rel_error(res.weight, [index[i]], [totals[i]]))
        raise ConvergenceError(f"update_frame: margins not met after {res.iterations} sweeps "
                               f"(max relative error {err:.2e}, worst margin "
                               f"{resolved.margins[worst].name!r}); margins may disagree in "
                               "their totals - check their universes")
    out = frame.copy()
    out[count] = res.weight
    return out


__all__ = ["extend_frame", "update_frame"]
