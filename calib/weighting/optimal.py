"""Optimal (convex) calibration on the cell table with cvxpy.

Finds adjustment factors ``g_c`` per cell (cell weight ``W_c g_c``, every row of the cell
gets ``d_i g_c``) minimizing a divergence from the input weights subject to calibration
constraints ``X'(W g) = totals`` on the indicator columns of every margin entry and the
numeric auxiliaries, optional bounds ``L <= g <= U``, an optional relative tolerance per
margin entry (``|achieved - target| <= tolerance * |target|``) and optional soft targets
(entries with a standard error are penalized instead of being met exactly). With soft targets
the objective is

``sum_c W_c D(g_c) + sum_j ((achieved_j - T_j) / se_j)^2``

with ``W_c`` the input cell weights scaled to the population total (``variance``:
``sum_c S_c g_c^2 + ...``), so a target with a larger ``se`` is allowed to move more; the
solver minimizes this objective divided by the population total (``variance``: by
``sum_c S_c``), the same minimizer.

Divergences (per cell, weighted by the input cell weight ``W_c``):

* ``"kl"``: ``g log g - g + 1`` (raking distance; unbounded = raking),
* ``"chi2"``: ``(g - 1)^2 / 2`` (linear / GREG distance; unbounded = linear calibration),
* ``"variance"``: the sum of squared row weights ``sum_c S_c g_c^2`` where ``S_c`` is the
  sum of squared input weights in cell ``c``: the weights of least variance (largest Kish
  effective sample size) that meet the margins.

cvxpy is imported inside :func:`optimal` only (``calib`` must import fast).

References: Deville & Särndal (1992) JASA 87:376-382; Wu & Lu (2016) "Calibration weighting
methods for complex surveys", Int. Stat. Review 84:79-98; Diamond & Boyd (2016) cvxpy, JMLR 17.
"""

from __future__ import annotations

from typing import Any, get_args

import numpy as np

from calib.core.cells import broadcast
from calib.core.errors import DataError, InfeasibleError
from calib.core.history import Calibration, Step
from calib.core.literals import Divergence, MissingRule
from calib.core.sample import Sample
from calib.core.targets import Targets
from calib.weighting import problem as _design
from calib.weighting.distance import bound_pair

DIVERGENCES: tuple[Divergence, ...] = get_args(Divergence)
_DISTANCE_NAME = {"kl": "raking", "chi2": "linear", "variance": "variance"}
#: relative margin error accepted from the solver when margins are exact.
SOLVER_TOL = 1e-6


def optimal(
    sample: Sample,
    targets: Targets,
    *,
    divergence: Divergence = "kl",
    bounds: tuple[float, float] | None = None,
    tolerance: float | None = None,
    soft: bool = False,
    solver: str = "CLARABEL",
    population: float | None = None,
    missing: MissingRule = "error",
) -> Sample:
    """Calibrate by convex optimization on the cells.

    Parameters
    ----------
    sample : the Sample; its current weights are the input weights ``d``.
    targets : one-way / joint margins and numeric auxiliaries; shares are scaled to
        ``population`` (else the targets' population, else the sample's total weight).
    divergence : ``"kl"``, ``"chi2"`` or ``"variance"`` (see the module docstring).
    bounds : ``(L, U)`` bounds on ``g = w / d'`` where ``d' = d * P / sum(d)``: the input
        weights multiplied by the population total ``P`` (the first categorical margin's
        total) over their sum, always (R ``calibrate`` rescales only when every
        population/sample ratio of its model matrix exceeds 20, by their mean); ``None`` for
        none (``kl`` keeps ``g >= 0``). ``Calibration.g`` is reported relative to ``d``.
    tolerance : ``None`` for exact margins, else the relative error allowed per margin entry.
    soft : entries whose target has an ``se`` become penalized soft targets (penalty
        ``sum(((achieved - target) / se)^2)`` added to the divergence ``sum_c W_c D(g_c)``
        at population scale); entries with no ``se`` (or ``se == 0``) stay hard.
    solver : the cvxpy solver name (``"CLARABEL"`` by default).
    missing : missing values in weighting variables: ``"error"``, ``"drop"`` or ``"level"``.

    Returns
    -------
    Sample
        New sample; ``history[-1].calibration`` holds the cells, auxiliaries and g per cell.

    Raises
    ------
    InfeasibleError
        When no ``g`` within the bounds meets the constraints; the message names the margin
        entries that conflict (those with the largest residuals of the closest soft fit).

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample, Targets
    >>> df = pd.DataFrame({"sex": list("FFFMMMMMMM"), "age": list("yoyoyoyooo")})
    >>> t = Targets.from_frame(pd.DataFrame({
    ...     "variable": ["sex", "sex", "age", "age"], "level": ["F", "M", "o", "y"],
    ...     "share": [0.5, 0.5, 0.6, 0.4]}), population=100)
    >>> s = optimal(Sample(df), t, divergence="chi2", bounds=(0.5, 3))
    >>> s.weights.groupby(df["sex"]).sum().round(4).tolist()
    [50.0, 50.0]
    """
    if divergence not in DIVERGENCES:
        raise DataError(
            f"divergence={divergence!r} is not known; choose one of {', '.join(DIVERGENCES)}"
        )
    lo, hi = _check_bounds(bounds, divergence)
    if tolerance is not None and not (np.isfinite(tolerance) and tolerance >= 0):
        raise DataError(f"tolerance={tolerance!r}: give a relative tolerance >= 0, or None")
    d = _design.build(
        sample.frame, sample.weight_array, targets, population=population, missing=missing
    )
    base_rows = sample.weight_array if d.keep.all() else sample.weight_array[d.keep]
    W = d.cells.weight
    X, T, labels = d.matrix()
    se = _entry_se(d) if soft else np.full(T.size, np.nan)
    if soft and not np.any(se > 0):
        raise DataError(
            "soft=True but no target has an se > 0: add an 'se' column to the targets "
            "(or call with soft=False)"
        )
    S = None
    if divergence == "variance":
        S = np.bincount(d.row_cell, weights=base_rows**2, minlength=W.size)
    # g and its bounds are relative to the input weights scaled to the population total
    c = _population_scale(d, W)
    if S is not None:
        S = S * c**2
    g, status = _solve(X, W * c, T, se, S, divergence, lo, hi, tolerance, solver)
    if g is None:
        raise InfeasibleError(_conflict_message(X, W * c, T, labels, lo, hi, divergence, status))
    g = g * c  # relative to the input weights themselves
    achieved = X.T @ (W * g)
    rel = np.abs(achieved - T) / np.maximum(np.abs(T), 1e-12 * W.sum())
    hard = ~(se > 0)
    allowed = (tolerance or 0.0) + SOLVER_TOL
    if np.any(rel[hard] > allowed):
        j = int(np.flatnonzero(hard)[np.argmax(rel[hard])])
        raise InfeasibleError(
            f"optimal ({divergence}): the solver ({solver}, status {status}) stopped with margin "
            f"{labels[j][0]!r} level {labels[j][1]!r} off by {rel[j]:.3g} (relative). "
            "Loosen the bounds, set tolerance=, or try another solver"
        )
    if np.any(g < 0):
        j = int(np.argmin(g))
        key = ", ".join(
            f"{v}={d.cells.levels[v][d.cells.keys[j, i]]}" for i, v in enumerate(d.cells.variables)
        )
        raise InfeasibleError(
            f"optimal ({divergence}): the unbounded solution has negative weights (cell {key}, "
            f"g={g[j]:.3g}); set bounds=(0, U) or larger, or use divergence='kl'"
        )
    max_error = float(rel[hard].max()) if hard.any() else 0.0
    t_all, t_labels = d.totals_labels()
    cal = Calibration(
        cells=d.cells,
        row_cell=d.row_cell,
        auxiliary=d.auxiliary,
        totals=t_all,
        labels=t_labels,
        g=g,
        distance=_DISTANCE_NAME[divergence],
        bounds=(lo, hi),
        margin_index=d.index,
    )
    notes: tuple[str, ...] = ()
    if soft:
        soft_rel = {f"{labels[j][0]}={labels[j][1]}": float(rel[j]) for j in np.flatnonzero(~hard)}
        notes = (f"soft targets, relative error achieved: {soft_rel}",)
    step = Step(
        method="optimal",
        options={
            "divergence": divergence,
            "bounds": (lo, hi),
            "tolerance": tolerance,
            "soft": soft,
            "solver": solver,
            "status": status,
            "missing": missing,
        },
        converged=True,
        iterations=0,
        max_error=max_error,
        history=(max_error,),
        targets=d.targets,
        dropped=d.dropped,
        calibration=cal,
        notes=notes,
    )
    return sample.with_weights(base_rows * broadcast(g, d.row_cell), step, d.keep)


def _population_scale(d: _design.CellDesign, W: np.ndarray) -> float:
    """Population total (of the first categorical margin) over the input weight total."""
    cat = d.categorical
    if not cat or cat[0].total <= 0 or W.sum() <= 0:
        return 1.0
    return cat[0].total / float(W.sum())


def _check_bounds(bounds: tuple[float, float] | None, divergence: Divergence) -> tuple[float, float]:
    if bounds is None:
        return (0.0 if divergence == "kl" else -np.inf, np.inf)
    lo, hi = bound_pair(bounds)
    return (max(lo, 0.0) if divergence == "kl" else lo), hi  # (-inf, inf): no bounds


def _entry_se(d: _design.CellDesign) -> np.ndarray:
    """Standard error (as a total) per column of the design matrix; NaN where none."""
    out = []
    for mg in (*d.categorical, *d.numeric_margins):
        out.append(np.full(mg.values.size, np.nan) if mg.se is None else mg.se)
    return np.concatenate(out) if out else np.zeros(0)


def _independent(A: np.ndarray) -> np.ndarray:
    """Indices of a maximal linearly independent subset of the columns of ``A``."""
    from scipy.linalg import qr

    if A.shape[1] == 0:
        return np.zeros(0, dtype=int)
    # scipy has no stubs: the checker infers every return shape of qr, not the one asked for
    _, R, piv = qr(A, mode="economic", pivoting=True)  # pyright: ignore[reportAssignmentType]
    diag = np.abs(np.diag(R))
    rank = int((diag > diag.max() * 1e-10).sum()) if diag.size else 0
    return np.sort(piv[:rank])


def _solve(
    X: np.ndarray,
    W: np.ndarray,
    T: np.ndarray,
    se: np.ndarray,
    S: np.ndarray | None,
    divergence: Divergence,
    lo: float,
    hi: float,
    tolerance: float | None,
    solver: str,
) -> tuple[np.ndarray | None, str]:
    import cvxpy as cp
    from cvxpy.error import SolverError

    N = float(W.sum())
    w = W / N  # scaled: objective and constraints of order one
    t = T / N
    g = cp.Variable(W.size)
    # the objective sum_c W_c D(g_c) + penalty, divided by ``scale`` (N; variance: sum S)
    if divergence == "kl":
        obj, scale = cp.sum(cp.multiply(w, -cp.entr(g) - g + 1)), N
    elif divergence == "chi2":
        obj, scale = 0.5 * cp.sum(cp.multiply(w, cp.square(g - 1))), N
    else:
        assert S is not None  # divergence="variance" comes with S, the squared weights per cell
        obj, scale = cp.sum(cp.multiply(S / S.sum(), cp.square(g))), float(S.sum())
    A = X * w[:, None]  # A' g = achieved / N
    cons: list[Any] = []
    if np.isfinite(lo):
        cons.append(g >= lo)
    if np.isfinite(hi):
        cons.append(g <= hi)
    hard = ~(se > 0)
    soft_j = np.flatnonzero(~hard)
    if soft_j.size:
        resid = (A[:, soft_j].T @ g - t[soft_j]) / (se[soft_j] / N)  # (achieved - T) / se
        obj = obj + cp.sum_squares(resid) / scale
    hard_j = np.flatnonzero(hard)
    if hard_j.size:
        if tolerance is None:
            keep = hard_j[_independent(A[:, hard_j])]
            cons.append(A[:, keep].T @ g == t[keep])
        else:
            scale = np.maximum(np.abs(t[hard_j]), 1e-12)
            cons.append(cp.abs(A[:, hard_j].T @ g - t[hard_j]) <= tolerance * scale)
    prob = cp.Problem(cp.Minimize(obj), cons)
    try:
        prob.solve(solver=solver, **_accuracy(solver))
    except SolverError as e:
        return None, f"solver error: {e}"
    if prob.status not in ("optimal", "optimal_inaccurate") or g.value is None:
        return None, str(prob.status)
    gv = np.asarray(g.value, dtype=float)
    gv = np.clip(gv, lo, hi)
    return gv, str(prob.status)


def _conflict_message(
    X: np.ndarray,
    W: np.ndarray,
    T: np.ndarray,
    labels: tuple[tuple[str, str], ...],
    lo: float,
    hi: float,
    divergence: Divergence,
    status: str,
    top: int = 3,
) -> str:
    """Solve the closest soft problem (L1 relative residuals within the bounds) and name the
    margin entries left with the largest residuals."""
    import cvxpy as cp
    from cvxpy.error import SolverError

    N = float(W.sum())
    A = X * (W / N)[:, None]
    t = T / N
    scale = np.maximum(np.abs(t), 1e-12)
    g = cp.Variable(W.size)
    cons = []
    if np.isfinite(lo):
        cons.append(g >= lo)
    if np.isfinite(hi):
        cons.append(g <= hi)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.abs(A.T @ g - t) / scale)), cons)
    head = f"optimal ({divergence}) is infeasible (solver status {status})"
    try:
        prob.solve(solver="CLARABEL")
    except SolverError:
        return head + ": loosen the bounds or check that the margins are consistent"
    if g.value is None:
        return head + ": loosen the bounds or check that the margins are consistent"
    rel = (A.T @ g.value - t) / scale
    order = [j for j in np.argsort(-np.abs(rel))[:top] if abs(rel[j]) > 1e-6]
    parts = [
        f"margin {labels[j][0]!r} level {labels[j][1]!r} (closest fit {rel[j]:+.3g} relative)"
        for j in order
    ]
    return (
        head
        + (f" with bounds g in [{lo:g}, {hi:g}]" if np.isfinite(lo) or np.isfinite(hi) else "")
        + ": the constraints that conflict are "
        + "; ".join(parts or ["(none isolated: the margins may disagree with each other)"])
        + ". Widen the bounds, set tolerance=, mark uncertain targets soft (se + soft=True), "
        "or fix those targets"
    )


def _accuracy(solver: str) -> dict[str, float]:
    """Tight tolerances for the solvers we know (margins are expected to ~1e-8)."""
    if solver.upper() == "CLARABEL":
        return {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12, "tol_ktratio": 1e-10, "max_iter": 400}
    return {}
