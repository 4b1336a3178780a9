"""Generalized calibration (Deville & Särndal 1992) on the cell table.

Finds weights ``w_i = d_i g_i`` with ``g_i = 1 + Fm1(x_i' eta)`` close to the input weights
``d_i`` in a calibration distance (:mod:`calib.weighting.distance`) that reproduce the
population totals of the auxiliaries ``x`` exactly: indicators of every margin entry
(categorical margins, one-way or joint) and numeric auxiliaries. Solved by Newton's method
with step halving on the cells, exactly as R survey's ``grake`` (``calibrate()``): the
Jacobian is inverted with a pseudo-inverse (``MASS::ginv``), so the rank-deficient indicator
matrix of several margins needs no reference levels; convergence is R's ``epsilon``
criterion, ``max |misfit| / (1 + |total|) < tol``.

References: Deville & Särndal (1992) JASA 87:376-382; Deville, Särndal & Sautory (1993)
JASA 88:1013-1020; Lumley (2010) *Complex Surveys*, ch. 7; R survey ``?calibrate``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from calib.core.cells import broadcast
from calib.core.errors import ConvergenceError, DataError, InfeasibleError
from calib.core.literals import DistanceName, MissingRule
from calib.core.sample import Sample
from calib.core.targets import Targets
from calib.core.util import check_solver
from calib.weighting import distance as _distance
from calib.weighting import problem as _design
from calib.weighting.solution import CellSolution

if TYPE_CHECKING:
    from scipy.sparse import csr_array

#: R grake's threshold: input weights are rescaled when every population/sample ratio exceeds it.
RESCALE_THRESHOLD = 20.0


@dataclass(frozen=True)
class NewtonResult:
    """Outcome of :func:`newton`: g per cell (relative to the input weights) and the trace."""

    g: np.ndarray
    eta: np.ndarray
    converged: bool
    iterations: int
    max_error: float
    history: tuple[float, ...]
    scale: float


def model_columns(labels: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> np.ndarray:
    """(p, q) map from calib's auxiliary columns to R ``calibrate``'s model-matrix columns.

    calib's auxiliaries are an indicator of every level of every categorical margin, then the
    numeric auxiliaries (level ``""``). R's model matrix of ``~ a + b + x`` has an intercept
    (the sum of any margin's indicators), one column per level of each factor except its
    first (the first in sorted order, as R's ``factor()`` orders a text column) and the
    numeric columns. ``totals @ M`` and ``(X' w) @ M`` are R's population and sample totals.

    Examples
    --------
    >>> model_columns([("sex", "M"), ("sex", "F"), ("age", "")]).tolist()
    [[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    labels = list(labels)
    margins: dict[str, list[int]] = {}
    for j, (name, _) in enumerate(labels):
        margins.setdefault(name, []).append(j)
    cols: list[np.ndarray] = []
    intercept = False
    for cols_j in margins.values():
        if len(cols_j) == 1 and labels[cols_j[0]][1] == "":  # a numeric auxiliary
            cols.append(_unit(len(labels), cols_j))
            continue
        if not intercept:  # the intercept: every row is in one level of this margin
            cols.insert(0, _unit(len(labels), cols_j))
            intercept = True
        first = min(cols_j, key=lambda j: labels[j][1])
        cols.extend(_unit(len(labels), [j]) for j in cols_j if j != first)
    return np.column_stack(cols) if cols else np.zeros((len(labels), 0))


def _unit(p: int, js: list[int]) -> np.ndarray:
    v = np.zeros(p)
    v[js] = 1.0
    return v


def rescale_factor(X: np.ndarray, w: np.ndarray, totals: np.ndarray,
                   model: np.ndarray | None = None) -> float:
    """R grake's rescaling: the mean population/sample ratio when all exceed 20, else 1.

    R takes the ratios over its model-matrix columns (``model``, from :func:`model_columns`:
    intercept, one level per factor dropped, numeric columns); without ``model`` over the
    columns of ``X`` as given.

    Examples
    --------
    >>> import numpy as np
    >>> rescale_factor(np.ones((2, 1)), np.ones(2), np.array([100.0]))
    50.0
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> M = model_columns([("g", "a"), ("g", "b")])
    >>> rescale_factor(X, np.ones(3), np.array([100.0, 200.0]), M)  # mean(300/3, 200/2)
    100.0
    """
    st = X.T @ w
    if model is not None:
        st, totals = st @ model, totals @ model
    with np.errstate(divide="ignore", invalid="ignore"):
        scales = totals / st
    if scales.size and np.all(np.isfinite(scales)) and scales.min() > RESCALE_THRESHOLD:
        return float(scales.mean())
    return 1.0


def newton(
    X: np.ndarray,
    w: np.ndarray,
    totals: np.ndarray,
    distance: _distance.Distance,
    bounds: _distance.Bounds,
    *,
    tol: float = 1e-7,
    max_iter: int = 50,
    damped: bool = False,
    model: np.ndarray | None = None,
) -> NewtonResult:
    """Solve the calibration equations ``X'(w * g) = totals`` as R survey's ``grake`` does.

    Parameters
    ----------
    X : (m, p) auxiliaries per cell; w : (m,) input weight per cell; totals : (p,) targets.
    distance, bounds : the calibration distance and bounds on g (after rescaling).
    tol : R's ``epsilon``: stop when ``max |misfit| / (1 + |totals|) < tol``.
    max_iter : R's ``maxit`` (Newton steps).
    damped : halve each Newton step until the relative misfit decreases (a backtracking line
        search; not in R). It avoids the full first step that can throw a bounded distance
        into the region where every g sits at a bound and the Jacobian vanishes.
    model : R's model-matrix columns (:func:`model_columns`) over which the rescaling ratios
        are averaged; None: the columns of ``X``.

    Returns
    -------
    NewtonResult
        ``g`` relative to the (unrescaled) input weights.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0], [0, 1], [1, 0]])
    >>> r = newton(X, np.ones(3), np.array([4.0, 2.0]), _distance.get("raking"), (-np.inf, np.inf))
    >>> np.round(r.g, 8).tolist(), r.converged
    ([2.0, 2.0, 2.0], True)
    """
    scale = rescale_factor(X, w, totals, model)
    ww = w * scale
    Fm1, dF = distance.Fm1, distance.dF
    Xm = _maybe_sparse(X)  # dense or CSR
    eta = np.zeros(X.shape[1])
    xeta = Xm @ eta
    denom = 1.0 + np.abs(totals)
    history: list[float] = []
    it = 1
    converged = False
    err = np.inf
    while True:
        deriv = dF(xeta, bounds)
        T = _crossprod(Xm, ww * deriv)
        misfit = totals - Xm.T @ (ww * (1.0 + Fm1(xeta, bounds)))
        deta = np.linalg.pinv(T, rtol=256 * np.finfo(float).eps) @ misfit
        if damped:
            deta = _backtrack(Xm, ww, totals, denom, Fm1, bounds, eta, deta, misfit)
        eta = eta + deta
        xeta = Xm @ eta
        g = 1.0 + Fm1(xeta, bounds)
        d = dF(xeta, bounds)
        while it < max_iter and not (np.isfinite(g).all() and np.isfinite(d).all()):
            it += 1
            deta = deta / 2.0
            eta = eta - deta
            xeta = Xm @ eta
            g = 1.0 + Fm1(xeta, bounds)
            d = dF(xeta, bounds)
        misfit = totals - Xm.T @ (ww * g)
        err = float(np.max(np.abs(misfit) / denom)) if misfit.size else 0.0
        history.append(err)
        if err < tol:
            converged = True
            break
        it += 1
        if it > max_iter:
            break
    g = 1.0 + Fm1(xeta, bounds)
    return NewtonResult(g * scale, eta, converged, it, err, tuple(history), scale)


def _maybe_sparse(X: np.ndarray) -> np.ndarray | csr_array:
    """Indicator auxiliaries are mostly zeros: use CSR so X'WX costs O(nnz), not O(m p^2)."""
    from scipy import sparse

    if sparse.issparse(X) or X.size < 50_000 or np.count_nonzero(X) > 0.2 * X.size:
        return X
    return sparse.csr_array(X)


def _crossprod(X, v: np.ndarray) -> np.ndarray:
    """``X' diag(v) X`` as a dense array, for dense or sparse ``X``."""
    from scipy import sparse

    if sparse.issparse(X):
        return (X.T @ sparse.csr_array(X * v[:, None])).toarray()
    return (X * v[:, None]).T @ X


def _backtrack(X, ww, totals, denom, Fm1, bounds, eta, deta, misfit) -> np.ndarray:
    """Halve ``deta`` until the norm of the relative misfit decreases (at most 60 times)."""
    before = float(np.linalg.norm(misfit / denom))
    step = deta
    for _ in range(60):
        g = 1.0 + Fm1(X @ (eta + step), bounds)
        if np.isfinite(g).all():
            after = float(np.linalg.norm((totals - X.T @ (ww * g)) / denom))
            if after < before:
                return step
        step = step / 2.0
    return step


def calibrate(
    sample: Sample,
    targets: Targets,
    *,
    distance: DistanceName | _distance.Distance = "linear",
    bounds: tuple[float, float] | None = None,
    tol: float = 1e-7,
    max_iter: int = 50,
    trim: tuple[float, float] | None = None,
    population: float | None = None,
    missing: MissingRule = "error",
    allow_nonconvergence: bool = False,
) -> Sample:
    """Calibrate a sample's current weights to categorical margins and numeric totals.

    Parameters
    ----------
    sample : the Sample; its current weights are the input weights ``d``.
    targets : one-way and joint categorical margins and numeric auxiliaries (population
        totals of numeric columns); shares are scaled to ``population`` (else the targets'
        population, else the sample's total weight).
    distance : ``"linear"`` (GREG; negative weights are refused), ``"raking"``
        (exponential), ``"logit"`` (needs finite bounds), ``"truncated"`` (linear with finite
        bounds), or a :class:`~calib.weighting.distance.Distance`.
    bounds : ``(L, U)`` bounds on ``g = w / d`` with ``0 <= L < 1 < U``. As in R, when every
        population/sample ratio exceeds 20 the input weights are first rescaled by their mean
        ratio and the bounds apply to the rescaled weights (a warning and a Step note say so).
    tol : R's ``epsilon``: ``max |misfit| / (1 + |total|)`` to reach.
    max_iter : most Newton steps (R's ``maxit``).
    trim : ``(lo, hi)`` on g after solving, as R ``calibrate(trim=)``: g outside is set to
        the limit and the trimmed weight is spread over the other units in proportion to
        their input weights (one pass; the margins are then no longer met exactly).
    missing : missing values in weighting variables: ``"error"``, ``"drop"`` or ``"level"``.
    allow_nonconvergence : return (with a warning, ``step.converged=False``) instead of raising.

    Returns
    -------
    Sample
        New sample; ``history[-1].calibration`` holds X, totals, g per cell, distance, bounds.

    Raises
    ------
    InfeasibleError
        When the bounds make the totals unreachable: a margin entry whose cells cannot reach
        its target within ``(L, U)``, or (checked with a linear programme) a set of entries
        that cannot be met together; or when unbounded linear calibration gives negative
        weights.
    ConvergenceError
        When Newton's method stops short of ``tol``; the message names the worst margin entry.

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample, Targets
    >>> df = pd.DataFrame({"sex": list("FFFMMMMMMM"), "age": [20, 30, 40, 50, 60, 20, 30,
    ...                                                      40, 50, 60]})
    >>> t = Targets.from_frame(pd.DataFrame({"variable": ["sex", "sex", "age"],
    ...     "level": ["F", "M", ""], "total": [50.0, 50.0, 4200.0]}))
    >>> s = Sample(df).calibrate(t, distance="raking")
    >>> w = s.weights
    >>> w.groupby(df["sex"]).sum().round(6).tolist(), round(float((w * df["age"]).sum()), 6)
    ([50.0, 50.0], 4200.0)
    """
    if trim is not None:
        trim = _check_trim(trim)
    check_solver(tol, max_iter)
    _distance.check_bounds(_distance.get(distance), bounds)  # refuse bad bounds before building
    d = _design.build(
        sample.frame, sample.weight_array, targets, population=population, missing=missing
    )
    sol = solve_cells(d, distance=distance, bounds=bounds, tol=tol, max_iter=max_iter,
                      trim=trim, missing=missing, allow_nonconvergence=allow_nonconvergence)
    base_rows = sample.weight_array[d.keep]
    return sample.with_weights(base_rows * broadcast(sol.g, d.row_cell),
                               sol.step("calibrate", d), d.keep)


def used_columns(X: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Columns to solve on: R drops all-zero auxiliary columns whose total is zero.

    Examples
    --------
    >>> used_columns(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([2.0, 0.0])).tolist()
    [True, False]
    """
    return ~((totals == 0) & ~X.any(axis=0))


def solve_newton(
    X: np.ndarray,
    w: np.ndarray,
    totals: np.ndarray,
    distance: _distance.Distance,
    bounds: _distance.Bounds,
    *,
    tol: float,
    max_iter: int,
    model: np.ndarray | None = None,
) -> tuple[NewtonResult, float | None]:
    """R's full-step Newton and, when it stops short, a damped Newton (backtracking).

    Returns the result (the damped one when only it converged) and the full-step misfit when
    the damped Newton took over (None otherwise). Every path that calibrates -- in memory,
    out of core and replicate recalibration -- solves through this function.

    Examples
    --------
    >>> X = np.array([[1.0, 0], [0, 1], [1, 0]])
    >>> r, fallback = solve_newton(X, np.ones(3), np.array([4.0, 2.0]),
    ...     _distance.get("raking"), (-np.inf, np.inf), tol=1e-7, max_iter=50)
    >>> np.round(r.g, 8).tolist(), fallback
    ([2.0, 2.0, 2.0], None)
    """
    res = newton(X, w, totals, distance, bounds, tol=tol, max_iter=max_iter, model=model)
    if not res.converged:
        damped = newton(X, w, totals, distance, bounds, tol=tol, max_iter=max_iter, damped=True,
                        model=model)
        if damped.converged:
            return damped, res.max_error
    return res, None


def solve_cells(
    problem: _design.CellDesign,
    *,
    distance: str | _distance.Distance = "linear",
    bounds: tuple[float, float] | None = None,
    tol: float = 1e-7,
    max_iter: int = 50,
    trim: tuple[float, float] | None = None,
    missing: str = "error",
    allow_nonconvergence: bool = False,
) -> CellSolution:
    """Calibrate on a cell problem: the one calibration solve of every path.

    Options as in :func:`calibrate`; ``missing`` is recorded on the step. Bounds are checked
    entry by entry before solving and, when Newton stops short, with a linear programme
    (InfeasibleError naming the entries); ``trim`` acts on g per cell.

    Examples
    --------
    >>> import pandas as pd
    >>> from calib.core.cells import collapse, encode
    >>> t = Targets.from_frame(pd.DataFrame({"variable": "x", "level": ["a", "b"],
    ...                                      "total": [3.0, 3.0]}))
    >>> cells, _ = collapse(encode(pd.DataFrame({"x": ["a", "b", "a"]}), ["x"],
    ...                            levels=t.levels()))
    >>> np.round(solve_cells(_design.from_cells(cells, t)).g, 12).tolist()
    [1.5, 3.0]
    """
    d = problem
    dist = _distance.get(distance)
    L, U = _distance.check_bounds(dist, bounds)
    name = dist.name
    if name == "linear" and (np.isfinite(L) or np.isfinite(U)):
        name = "truncated"
    if trim is not None:
        trim = _check_trim(trim)
    X, totals, labels = d.matrix()
    w = d.cells.weight
    used = used_columns(X, totals)
    Xu, tu = X[:, used], totals[:, None][used, 0]
    used_labels = [lab for lab, u in zip(labels, used, strict=True) if u]
    model = model_columns(used_labels)
    scale = rescale_factor(Xu, w, tu, model)
    notes: list[str] = []
    if scale != 1.0 and (np.isfinite(L) or np.isfinite(U)):
        msg = (
            f"calibrate: population totals are over {RESCALE_THRESHOLD:g} times the sample "
            f"totals, so (as R survey does) input weights were rescaled by {scale:.6g} and "
            f"bounds={(L, U)} apply to g relative to the rescaled weights"
        )
        warnings.warn(msg, UserWarning, stacklevel=3)
        notes.append(msg)
    # raking and logit keep g > 0 whatever the lower bound
    feasible = (max(L, 0.0) if name in ("raking", "logit") else L, U)
    if np.isfinite(L) or np.isfinite(U):
        _check_entries(Xu, w * scale, tu, used_labels, feasible)
    res, full_step = solve_newton(Xu, w, tu, dist, (L, U), tol=tol, max_iter=max_iter,
                                  model=model)
    if full_step is not None:
        notes.append(
            f"calibrate ({name}): R's full-step Newton (grake) stopped at max |misfit|/"
            f"(1+|total|) = {full_step:.3g}; converged with a damped Newton "
            f"(backtracking line search) in {res.iterations} steps"
        )
    g, converged = res.g, res.converged
    n_trim = 0
    if not converged and trim is None:
        if np.isfinite(L) or np.isfinite(U):
            _check_lp(Xu, w * scale, tu, used_labels, feasible, tol)
        _not_converged(d, res, name, tol, (L, U), allow_nonconvergence, notes)
    if trim is not None:
        g, n_trim = _trim_step(d, res, name, tol, trim, notes)
    _check_nonnegative(d, g, name)
    return CellSolution(
        g=g,
        distance=name,
        options={"distance": name, "bounds": (L, U), "tol": tol, "max_iter": max_iter,
                 "trim": trim, "missing": missing, "trimmed": n_trim, "rescale": res.scale},
        converged=converged,
        iterations=res.iterations,
        max_error=res.max_error,
        history=res.history,
        bounds=(L * res.scale, U * res.scale),
        notes=tuple(notes),
        X=X,
    )


def _not_converged(d: _design.CellDesign, res: NewtonResult, name: str, tol: float,
                   bounds: tuple[float, float], allow: bool, notes: list[str]) -> None:
    """Refuse (or, with ``allow_nonconvergence``, warn about) a Newton solve that stopped short."""
    where, level, _ = d.worst(d.cells.weight * res.g)
    msg = (
        f"calibrate ({name}) did not converge in {res.iterations} Newton steps: worst margin "
        f"{where!r} level {level!r}; max |misfit|/(1+|total|) = {res.max_error:.3g} "
        f"(tol={tol:g}). Raise max_iter, widen bounds={bounds}, or check the totals"
    )
    if not allow:
        raise ConvergenceError(msg)
    warnings.warn(msg, UserWarning, stacklevel=4)
    notes.append(msg)


def _trim_step(d: _design.CellDesign, res: NewtonResult, name: str, tol: float,
               trim: tuple[float, float], notes: list[str]) -> tuple[np.ndarray, int]:
    """R calibrate(trim=): g trimmed per cell; a non-converged solve is kept only if trimmed."""
    g, n_trim = _trim_g(res.g, d.cells.weight, trim, d.cells.count)
    if n_trim:
        notes.append(f"{n_trim} weights were trimmed to g in {trim} (R calibrate(trim=))")
        if not res.converged:
            msg = (
                f"calibrate ({name}): Newton stopped at max |misfit|/(1+|total|) = "
                f"{res.max_error:.3g} > tol={tol:g}; g was then trimmed to {trim} as R does"
            )
            warnings.warn(msg, UserWarning, stacklevel=4)
            notes.append(msg)
    elif not res.converged:
        where, level, _ = d.worst(d.cells.weight * g)
        raise ConvergenceError(
            f"calibrate ({name}) did not converge in {res.iterations} Newton steps: worst "
            f"margin {where!r} level {level!r} (max |misfit|/(1+|total|) = "
            f"{res.max_error:.3g}); nothing needed trimming. Raise max_iter or widen bounds"
        )
    return g, n_trim


def _check_nonnegative(d: _design.CellDesign, g: np.ndarray, name: str) -> None:
    """Linear calibration can give negative weights: refuse them naming the cells."""
    neg = g < 0
    if neg.any():
        bad = [d.cells.to_frame().iloc[int(i)][list(d.cells.variables)].astype(str).tolist()
               for i in np.flatnonzero(neg)[:5]]
        raise InfeasibleError(
            f"calibrate ({name}): {int(d.cells.count[neg].sum())} rows in {int(neg.sum())} cells "
            f"get negative weights (cells {bad} of {list(d.cells.variables)}); use "
            "distance='raking' or 'logit', or bounds=(L, U) with L >= 0"
        )


def _check_trim(trim: tuple[float, float]) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in trim)
    except (TypeError, ValueError):
        raise DataError(f"trim={trim!r}: give (lo, hi) limits on g") from None
    if not (lo <= 1.0 <= hi) or np.isnan(lo) or np.isnan(hi):
        raise DataError(f"trim={trim!r}: limits on g must satisfy lo <= 1 <= hi")
    return lo, hi


def _trim_g(
    g: np.ndarray, w: np.ndarray, trim: tuple[float, float], count: np.ndarray
) -> tuple[np.ndarray, int]:
    """R calibrate(trim=): clip g, spread the trimmed weight over the others by input weight."""
    lo, hi = trim
    outside = (g < lo) | (g > hi)
    if not outside.any():
        return g, 0
    gnew = np.clip(g, lo, hi)
    trimmings = float(((g - gnew) * w).sum())
    inside_w = float(w[~outside].sum())
    if inside_w <= 0:
        raise InfeasibleError(
            f"calibrate(trim={trim}): every weight is outside the trimming limits; widen them"
        )
    gnew[~outside] += trimmings / inside_w
    rows = int(count[outside].sum())
    return gnew, rows


def _label(lab: tuple[str, str]) -> str:
    return f"{lab[0]}={lab[1]}" if lab[1] else f"{lab[0]} (total)"


def _reach(X: np.ndarray, w: np.ndarray, bounds: _distance.Bounds) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest reachable total of each column with g in bounds."""
    L, U = bounds
    wx = X * w[:, None]
    with np.errstate(invalid="ignore"):
        a = np.where(wx == 0, 0.0, wx * L)
        b = np.where(wx == 0, 0.0, wx * U)
    return np.minimum(a, b).sum(axis=0), np.maximum(a, b).sum(axis=0)


def _check_entries(
    X: np.ndarray, w: np.ndarray, totals: np.ndarray, labels: list, bounds: _distance.Bounds
) -> None:
    """Raise naming every entry that cannot reach its total alone within the bounds."""
    lo, hi = _reach(X, w, bounds)
    slack = 1e-9 * (1.0 + np.abs(totals))
    bad = np.flatnonzero((totals < lo - slack) | (totals > hi + slack))
    if bad.size:
        L, U = bounds
        parts = [
            f"{_label(labels[j])}: target {totals[j]:.6g} outside [{lo[j]:.6g}, {hi[j]:.6g}] = "
            f"bounds x input total {X[:, j] @ w:.6g}"
            for j in bad[:10]
        ]
        raise InfeasibleError(
            f"bounds=({L:g}, {U:g}) on g cannot meet {bad.size} target(s) even alone: "
            + "; ".join(parts)
            + ". Widen the bounds, or collapse those levels with a neighbour"
        )


def _check_lp(
    X: np.ndarray,
    w: np.ndarray,
    totals: np.ndarray,
    labels: list,
    bounds: _distance.Bounds,
    tol: float,
) -> None:
    """Confirm infeasibility with an LP on cells: least total relative misfit with g in bounds.

    Raises InfeasibleError naming the entries left with misfit when the optimum exceeds tol.
    """
    from scipy.optimize import linprog

    m, p = X.shape
    den = 1.0 + np.abs(totals)
    A = (X * w[:, None]).T / den[:, None]  # (p, m)
    b = totals / den
    eye = np.eye(p)
    A_eq = np.hstack([A, eye, -eye])
    c = np.concatenate([np.zeros(m), np.ones(2 * p)])
    L, U = bounds
    gb = (None if not np.isfinite(L) else L, None if not np.isfinite(U) else U)
    res = linprog(c, A_eq=A_eq, b_eq=b, bounds=[gb] * m + [(0, None)] * (2 * p), method="highs")
    if res.status != 0:
        return
    slack = res.x[m : m + p] + res.x[m + p :]
    if res.fun <= max(tol, 1e-9):
        return
    off = np.flatnonzero(slack > max(tol, 1e-9) / 10)
    raise InfeasibleError(
        f"bounds=({L:g}, {U:g}) on g: the targets cannot be met together (a linear programme "
        f"on the cells leaves a least total relative misfit of {res.fun:.3g}). The conflict "
        f"shows at: {', '.join(_label(labels[j]) for j in off[:20])}. Widen the bounds, "
        "collapse sparse levels, or drop one of the conflicting margins"
    )


__all__ = ["calibrate", "solve_cells", "solve_newton", "used_columns", "newton", "NewtonResult",
           "rescale_factor", "model_columns"]
